{{/* Names and labels. */}}
{{- define "opsbot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "opsbot.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "opsbot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "opsbot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "opsbot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "opsbot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "opsbot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "opsbot.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "opsbot.secretName" -}}
{{- default (include "opsbot.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "opsbot.sqlite" -}}
{{- if eq .Values.database.driver "sqlite" -}}true{{- end -}}
{{- end -}}

{{/*
opsbot.validate refuses values that cannot work: several replicas on
SQLite (one file, one writer), PostgreSQL without a URL, an unknown driver.
*/}}
{{- define "opsbot.validate" -}}
{{- $db := .Values.database -}}
{{- if not (has $db.driver (list "sqlite" "postgres")) -}}
{{- fail (printf "database.driver is %q: use sqlite (one replica) or postgres" $db.driver) -}}
{{- end -}}
{{- if and (gt (int .Values.replicaCount) 1) (ne $db.driver "postgres") -}}
{{- fail (printf "replicaCount is %d, but opsbot on SQLite runs as one replica (one file on one volume). For several replicas set database.driver=postgres and database.url (or OPSBOT_DB in secrets.existingSecret)." (int .Values.replicaCount)) -}}
{{- end -}}
{{- if and (eq $db.driver "postgres") (not $db.url) (not .Values.secrets.existingSecret) -}}
{{- fail "database.driver is postgres but no URL is given: set database.url (postgres://...), or secrets.existingSecret with an OPSBOT_DB key" -}}
{{- end -}}
{{- if and $db.url (not (or (hasPrefix "postgres://" $db.url) (hasPrefix "postgresql://" $db.url))) -}}
{{- fail "database.url must be a postgres:// URL" -}}
{{- end -}}
{{- if and $db.url (ne $db.driver "postgres") -}}
{{- fail "database.url is set but database.driver is not postgres: set database.driver=postgres" -}}
{{- end -}}
{{- if lt (int .Values.replicaCount) 0 -}}
{{- fail "replicaCount must not be negative" -}}
{{- end -}}
{{- end -}}
