// Package check decodes the Kubernetes example manifests
// (examples/kubernetes/*.yaml) strictly into Kubernetes' own API types and
// checks what carebridge needs of them. It is a module of its own so that
// k8s.io/api, which takes most of a minute to compile from a cold cache,
// stays out of carebridge's module and its `go test ./...`; .ci/test.sh
// runs it as a separate step.
package check
