package store

import "context"

// numbers keeps the human IDs (inc-, srv-, ...) one Update took from
// PostgreSQL's sequences, across its runs. A sequence's number is not
// given back when the transaction that took it is rolled back, so each
// run PostgreSQL aborted with a serialization failure and the store ran
// again used to lose the numbers it took: the 500-incident storm reached
// inc-807. A number taken by an aborted run was handed to no one else,
// so the next run of the same Update takes it again, in the same order;
// only a number no later run asks for (it took another path), or one
// taken by an Update that fails for good, is skipped.
type numbers struct {
	taken map[string][]int64 // by prefix, in the order taken
	used  map[string]int     // how many of taken this run has used
}

type numbersKey struct{}

// withNumbers gives ctx a record of the numbers its Update takes.
func withNumbers(ctx context.Context) (context.Context, *numbers) {
	n := &numbers{taken: map[string][]int64{}, used: map[string]int{}}
	return context.WithValue(ctx, numbersKey{}, n), n
}

// rewind starts a run: it will take the numbers of the earlier runs
// first. A nil record (SQLite's Update keeps none) does nothing.
func (n *numbers) rewind() {
	if n != nil {
		clear(n.used)
	}
}

// next is the next number of prefix for this run: one an earlier run
// took, or a new one from take.
func (n *numbers) next(prefix string, take func() (int64, error)) (int64, error) {
	if i := n.used[prefix]; i < len(n.taken[prefix]) {
		n.used[prefix] = i + 1
		return n.taken[prefix][i], nil
	}
	v, err := take()
	if err != nil {
		return 0, err
	}
	n.taken[prefix] = append(n.taken[prefix], v)
	n.used[prefix]++
	return v, nil
}
