package sqlstore

import (
	"errors"
	"fmt"
)

// storeError is an error this package made (prefixed "sqlstore: ") or has
// already classified. wrapErr passes such errors through unchanged, so that
// an error is classified and prefixed once however many layers return it:
// its type tells, not its text.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// errorf is fmt.Errorf with the package prefix, marked as classified.
func errorf(format string, args ...any) error {
	return &storeError{fmt.Errorf("sqlstore: "+format, args...)}
}

// newError is errors.New with the package prefix, marked as classified.
func newError(text string) error {
	return &storeError{errors.New("sqlstore: " + text)}
}

// classified reports whether err passed through errorf or newError.
func classified(err error) bool {
	var se *storeError
	return errors.As(err, &se)
}
