package scheduler

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

func TestRunAll_RunsEveryTaskOnceAndSurvivesFailure(t *testing.T) {
	var ran []string
	s, err := New(slog.New(slog.NewTextHandler(io.Discard, nil)),
		Task{Name: "a", Every: time.Minute, Run: func(context.Context) error { ran = append(ran, "a"); return errors.New("boom") }},
		Task{Name: "b", Every: time.Hour, Run: func(context.Context) error { ran = append(ran, "b"); return nil }},
	)
	if err != nil {
		t.Fatal(err)
	}
	s.RunAll()
	if len(ran) != 2 || ran[0] != "a" || ran[1] != "b" {
		t.Fatalf("ran %v", ran)
	}
}

func TestNew_RefusesZeroInterval(t *testing.T) {
	if _, err := New(slog.Default(), Task{Name: "x"}); err == nil {
		t.Fatal("zero interval accepted")
	}
}
