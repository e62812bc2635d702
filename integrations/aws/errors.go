package aws

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/opsbot/opsbot/workflows"
)

// errorCode returns the AWS error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// permanentCodes are answers that the same request will get again:
// retrying them only burns attempts.
var permanentCodes = map[string]bool{
	"UnauthorizedOperation":       true,
	"IdempotentParameterMismatch": true,
	"InvalidParameterValue":       true,
	"InvalidParameterCombination": true,
	"InvalidParameter":            true,
	"MissingParameter":            true,
	"InvalidAMIID.Malformed":      true,
	"InvalidAMIID.NotFound":       true,
	"InvalidSubnetID.Malformed":   true,
	"InvalidSubnetID.NotFound":    true,
	"InvalidGroupId.Malformed":    true,
	"InvalidGroup.NotFound":       true,
	"InvalidKeyPair.NotFound":     true,
	"Unsupported":                 true,
	"InvalidUserData.Malformed":   true,
	"AuthFailure":                 true,
	"AccessDenied":                true, // STS AssumeRole refused: the role or its trust policy
}

// classify turns an SDK error into what workflows understand:
// DryRunOperation becomes ErrDryRun wrapped with what would have
// happened, errors that a retry cannot fix are marked Permanent, and the
// rest are wrapped with what was being done.
func classify(err error, doing string) error {
	code := errorCode(err)
	switch {
	case code == "DryRunOperation":
		return fmt.Errorf("%s: %w", doing, workflows.ErrDryRun)
	case permanentCodes[code] || strings.HasSuffix(code, ".Malformed"):
		return workflows.Permanent(fmt.Errorf("%s: %w", doing, err))
	}
	return fmt.Errorf("%s: %w", doing, err)
}
