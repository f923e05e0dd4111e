package scripted

import "errors"

// ErrClosed is returned by Recv on a stream that was closed.
var ErrClosed = errors.New("scripted: stream closed")
