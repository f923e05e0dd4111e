package pertoken

import "errors"

// ErrTokenCount is returned (wrapped) when a path read more or fewer
// tokens than the provider streamed.
var ErrTokenCount = errors.New("pertoken: wrong token count")
