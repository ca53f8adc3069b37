package rt

import (
	"errors"
	"fmt"
)

// Code is a stable, append-only error code, adjective + noun.
type Code string

// Error codes returned by this package (compare with errors.Is(err, code)
// or read (*Error).Code).
const (
	// InvalidCircuit: a circuit failed Validate.
	InvalidCircuit Code = "InvalidCircuit"
	// CorruptData: bytes (circuit, keys, ciphertexts) fail their checksum
	// or do not decode.
	CorruptData Code = "CorruptData"
	// UnsupportedVersion: bytes written by an incompatible fheir version.
	UnsupportedVersion Code = "UnsupportedVersion"
	// WrongModel: keys or ciphertexts made for another circuit.
	WrongModel Code = "WrongModel"
	// WrongParams: keys or ciphertexts made for another parameter set.
	WrongParams Code = "WrongParams"
	// WrongKind: bytes of another kind (keys where ciphertexts are expected).
	WrongKind Code = "WrongKind"
	// BadInput: inputs of the wrong number, shape or value.
	BadInput Code = "BadInput"
	// TableIndexOutOfRange: in the clear, a TLU input fell outside its
	// table's domain (the compiler's range was exceeded).
	TableIndexOutOfRange Code = "TableIndexOutOfRange"
	// NoCryptoParameters: no parameter set satisfies the circuit's widths,
	// noise and error probability.
	NoCryptoParameters Code = "NoCryptoParameters"
	// AccumulatorTooWide: a TLU input is wider than any parameter set allows.
	AccumulatorTooWide Code = "AccumulatorTooWide"
	// NoParams: execution needs crypto parameters the circuit does not name.
	NoParams Code = "NoParams"
	// UnknownScheme: the circuit names a crypto scheme this runtime lacks.
	UnknownScheme Code = "UnknownScheme"
	// NoKeys: the client has not generated keys yet.
	NoKeys Code = "NoKeys"
	// Unsupported: the backend lacks a feature the circuit needs.
	Unsupported Code = "Unsupported"
	// MemoryExceeded: the parameters would need more server memory than
	// SelectOptions.MemoryLimit allows.
	MemoryExceeded Code = "MemoryExceeded"
)

// Error is an error with a stable code.
type Error struct {
	Code Code
	Msg  string
	Err  error // optional cause
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Msg, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Msg)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Code, so errors.Is(err, rt.WrongModel)
// works.
func (e *Error) Is(target error) bool {
	c, ok := target.(Code)
	return ok && c == e.Code
}

// Error makes a Code usable as an errors.Is target.
func (c Code) Error() string { return string(c) }

func errf(code Code, format string, args ...any) error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

func wrapErr(code Code, err error, format string, args ...any) error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Err: err}
}

// CodeOf returns the code of err, or "" when it carries none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
