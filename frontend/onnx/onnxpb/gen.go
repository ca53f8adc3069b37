// Package onnxpb holds the Go bindings of ONNX's protobuf schema (onnx.proto3,
// from the onnx 1.23.2 wheel, IR version 14), generated with protoc-gen-go.
//
// Regenerate with `make proto` (which runs `go generate` here); refresh
// onnx.proto3 itself with fetch_proto.sh.
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto3=github.com/fheir/fheir/frontend/onnx/onnxpb onnx.proto3
