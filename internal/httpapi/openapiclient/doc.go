// Package openapiclient is a Go client generated from the API's OpenAPI
// document (../openapi.json) by oapi-codegen. It exists to prove that the
// document is complete enough for a generator: its test signs in,
// refreshes and signs out against the real server. Do not edit
// client.gen.go; change openapi.json and run go generate.
package openapiclient

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -config oapi-codegen.yaml ../openapi.json
