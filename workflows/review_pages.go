package workflows

import (
	"context"
	"errors"
	"time"
)

// DocTable is a table block: DocBlock.Rows, the first row its header.
const DocTable DocBlockKind = "table"

// ReviewPages writes reviews (the alert review, the monthly cost review)
// as pages of a document database, each found again by its key, so a
// retry or a restart never makes two. The Notion integration implements
// it.
type ReviewPages interface {
	// WriteReviewPage creates the page of p.Key in database db, or
	// returns the one created for it already (completing a page a crash
	// left half-written).
	WriteReviewPage(ctx context.Context, db string, p ReviewPage) (DocRef, error)
	// AppendReviewLine appends b to the page of key unless a block whose
	// text starts with prefix is on it already. It returns ErrNoReviewPage
	// while the page is not written.
	AppendReviewLine(ctx context.Context, db, key, prefix string, b DocBlock) error
}

// ErrNoReviewPage says a review's page is not written yet.
var ErrNoReviewPage = errors.New("the review's page is not written yet")

// ReviewPage is a review as a document: its key (the "Review ID"
// property), title, date and body.
type ReviewPage struct {
	Key   string
	Title string
	Date  time.Time
	Body  []DocBlock
}

// Table is a table block with header and rows: every row is cut or padded
// to the header's width.
func Table(header []string, rows ...[]string) DocBlock {
	b := DocBlock{Kind: DocTable, Rows: [][]string{header}}
	for _, r := range rows {
		row := make([]string, len(header))
		copy(row, r)
		b.Rows = append(b.Rows, row)
	}
	return b
}
