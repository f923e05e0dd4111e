package model

import "errors"

var (
	// ErrInvalidLimits is returned by Limits.Validate.
	ErrInvalidLimits = errors.New("model: invalid limits")
	// ErrUnknownName is returned when parsing an unknown state, status or
	// reason name.
	ErrUnknownName = errors.New("model: unknown name")
)
