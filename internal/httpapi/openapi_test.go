package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// apiSpec is openapi.json as the scenario suite checks every exchange
// against it: do validates each request and response it makes, so a
// status, field or header that the document does not describe fails the
// test that produced it. Endpoints, headers and error codes added later
// only need adding to openapi.json.
type apiSpec struct {
	doc    *openapi3.T
	router routers.Router
	// common are the headers every response may carry without its
	// response object naming them (x-gatehouse-common-headers).
	common map[string]*openapi3.Header
}

var loadSpec = sync.OnceValues(func() (*apiSpec, error) {
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("load openapi.json: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.json is not a valid OpenAPI document: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("openapi.json: got version %q, want 3.1", doc.OpenAPI)
	}
	// The test servers listen on random ports: match paths, not the
	// documented server URL.
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	spec := &apiSpec{doc: doc, router: router, common: make(map[string]*openapi3.Header)}
	names, _ := doc.Extensions["x-gatehouse-common-headers"].([]any)
	for _, n := range names {
		name, _ := n.(string)
		h := doc.Components.Headers[name]
		if h == nil || h.Value == nil {
			return nil, fmt.Errorf("openapi.json: x-gatehouse-common-headers names %q, which components.headers lacks", n)
		}
		spec.common[textproto.CanonicalMIMEHeaderKey(name)] = h.Value
	}
	return spec, nil
})

// checkSpec validates one exchange of the suite against openapi.json.
func checkSpec(t *testing.T, req *http.Request, reqBody string, resp response) {
	t.Helper()
	spec, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.check(req, reqBody, resp.status, resp.header, resp.body); err != nil {
		t.Errorf("%s: answer not as openapi.json describes it: %v", resp.call, err)
	}
}

// transportHeaders are net/http's own, outside any API description.
var transportHeaders = map[string]bool{"Date": true, "Content-Length": true, "Content-Type": true, "Connection": true, "Transfer-Encoding": true}

func (s *apiSpec) check(req *http.Request, reqBody string, status int, header http.Header, body string) error {
	ctx := context.Background()
	lookup := req
	if req.Method == http.MethodHead {
		// net/http answers HEAD with the GET handler, minus the body.
		lookup = req.Clone(ctx)
		lookup.Method = http.MethodGet
	}
	route, params, err := s.router.FindRoute(lookup)
	if err == nil && strings.HasSuffix(req.URL.Path, "/") && !strings.HasSuffix(route.Path, "/") {
		// The router forgives a trailing slash; net/http's mux does not.
		err = routers.ErrPathNotFound
	}
	if err != nil {
		// The document's general rule for what it does not list: 404, or
		// 405 naming the allowed methods, with the Error body; a preflight
		// from an origin outside --cors-origins is refused (403) before any
		// route is looked at.
		allowed := status == http.StatusNotFound || (status == http.StatusMethodNotAllowed && header.Get("Allow") != "") ||
			(status == http.StatusForbidden && req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "")
		if !allowed {
			return fmt.Errorf("no operation for it (%v), yet the answer is %d", err, status)
		}
		if err := s.checkCommonHeaders(header, s.doc.Components.Responses["MethodNotAllowed"].Value.Headers); err != nil {
			return err
		}
		return s.checkSchema("Error", body)
	}
	noAuth := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	in := &openapi3filter.RequestValidationInput{Request: withBody(req, reqBody), PathParams: params, Route: route, Options: noAuth}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil && status < 400 {
		return fmt.Errorf("accepted (%d) a request the document calls invalid: %v", status, err)
	}
	operation := route.Operation.Responses.Status(status)
	if operation == nil || operation.Value == nil {
		return fmt.Errorf("status %d is not documented for %s %s", status, route.Method, route.Path)
	}
	if req.Method != http.MethodHead {
		out := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in,
			Status:                 status,
			Header:                 header,
			Body:                   io.NopCloser(strings.NewReader(body)),
			Options:                &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		}
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			return err
		}
	}
	return s.checkCommonHeaders(header, operation.Value.Headers)
}

// checkCommonHeaders fails on a header that neither the response object
// nor the common list names, and checks the common ones' values. A
// response object that documents a common header itself (a cacheable
// response's Cache-Control) overrides the common definition.
func (s *apiSpec) checkCommonHeaders(header http.Header, documented openapi3.Headers) error {
	isDocumented := func(name string) bool {
		for d := range documented {
			if strings.EqualFold(d, name) {
				return true
			}
		}
		return false
	}
	for name := range header {
		if !transportHeaders[name] && s.common[name] == nil && !isDocumented(name) {
			return fmt.Errorf("header %s is not documented", name)
		}
	}
	for name, h := range s.common {
		if isDocumented(name) {
			continue // validated by kin-openapi against the response's own definition
		}
		v, ok := header[name]
		if !ok {
			if h.Required {
				return fmt.Errorf("header %s is missing", name)
			}
			continue
		}
		if err := h.Schema.Value.VisitJSON(strings.Join(v, ", "), openapi3.EnableJSONSchema2020()); err != nil {
			return fmt.Errorf("header %s: %v", name, err)
		}
	}
	return nil
}

// checkSchema validates a JSON body against a schema of components.
func (s *apiSpec) checkSchema(name, body string) error {
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		return fmt.Errorf("body %q: %v", body, err)
	}
	if err := s.doc.Components.Schemas[name].Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("body %s is not a %s: %v", body, name, err)
	}
	return nil
}

func withBody(req *http.Request, body string) *http.Request {
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(strings.NewReader(body))
	r.ContentLength = int64(len(body))
	return r
}

// TestOpenAPI_CatchesDrift: the check that runs on every exchange fails on
// what the document does not describe. Without this, a check that let
// everything pass would look the same as a suite that conforms.
func TestOpenAPI_CatchesDrift(t *testing.T) {
	t.Parallel()
	spec, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	common := http.Header{
		"Cache-Control":           {"no-store"},
		"X-Content-Type-Options":  {"nosniff"},
		"Content-Security-Policy": {"default-src 'none'; frame-ancestors 'none'"},
		"Content-Type":            {"application/json; charset=utf-8"},
	}
	with := func(kv ...string) http.Header {
		h := common.Clone()
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				h.Del(kv[i])
			} else {
				h.Set(kv[i], kv[i+1])
			}
		}
		return h
	}
	me := `{"id":1,"email":"ada@example.com","created_at":"2026-03-02T09:30:00Z","methods":["password"],"aal":1,"authenticated_at":"2026-03-02T09:30:00Z"}`
	tests := []struct {
		name    string
		method  string
		path    string
		status  int
		header  http.Header
		body    string
		wantErr string // "" for an exchange that conforms
	}{
		{name: "conforming", method: "GET", path: "/v1/auth/me", status: 200, header: common, body: me},
		{name: "undocumented_status", method: "GET", path: "/v1/auth/me", status: 418, header: common, body: `{"error":"teapot","code":"bad_request"}`, wantErr: "status 418"},
		{name: "undocumented_field", method: "GET", path: "/v1/auth/me", status: 200, header: common, body: strings.Replace(me, "{", `{"admin":true,`, 1), wantErr: "admin"},
		{name: "missing_field", method: "GET", path: "/v1/auth/me", status: 200, header: common, body: `{"id":1,"email":"ada@example.com"}`, wantErr: "created_at"},
		{name: "undocumented_header", method: "GET", path: "/v1/auth/me", status: 200, header: with("X-Debug", "1"), body: me, wantErr: "X-Debug"},
		{name: "missing_security_header", method: "GET", path: "/v1/auth/me", status: 200, header: with("Content-Security-Policy", ""), body: me, wantErr: "Content-Security-Policy"},
		{name: "undocumented_error_code", method: "DELETE", path: "/v1/auth/sign_out", status: 401, header: common, body: `{"error":"Not authorized","code":"nope"}`, wantErr: "code"},
		{name: "undocumented_route", method: "GET", path: "/v1/auth/whoami", status: 200, header: common, body: me, wantErr: "no operation"},
		{name: "unknown_route_404", method: "GET", path: "/v1/auth/whoami", status: 404, header: common, body: `{"error":"Not found","code":"not_found"}`},
		{name: "unknown_route_bad_body", method: "GET", path: "/v1/auth/whoami", status: 404, header: common, body: `Not found`, wantErr: "body"},
		{name: "invalid_request_accepted", method: "DELETE", path: "/v1/auth/sessions?scope=mine", status: 200, header: common, body: `"ok"`, wantErr: "accepted"},
		{name: "invalid_request_refused", method: "DELETE", path: "/v1/auth/sessions?scope=mine", status: 400, header: common, body: `{"error":"bad scope","code":"bad_request"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, "http://127.0.0.1"+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = spec.check(req, "", tt.status, tt.header, tt.body)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("check(%s %s → %d): got %v, want no error", tt.method, tt.path, tt.status, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("check(%s %s → %d): got %v, want an error mentioning %q", tt.method, tt.path, tt.status, err, tt.wantErr)
			}
		})
	}
}

// TestOpenAPI_Served: GET /openapi.json is the embedded document, byte for
// byte, and every operation it lists is routed (no 404 or 405).
func TestOpenAPI_Served(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{jwks: func() []byte { return []byte(`{"keys":[]}`) }, passkeys: true})
	want, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	resp := ts.do(t, request{method: "GET", path: "/openapi.json"})
	if resp.status != http.StatusOK || !bytes.Equal([]byte(resp.body), want) {
		t.Errorf("GET /openapi.json: got %d with %d bytes, want 200 with openapi.json (%d bytes)", resp.status, len(resp.body), len(want))
	}
	spec, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range spec.doc.Paths.Map() {
		for method := range item.Operations() {
			if method == http.MethodOptions {
				continue // preflights need a CORS origin
			}
			p := strings.ReplaceAll(path, "{id}", "x")
			if got := ts.status(t, request{method: method, path: p}); got == http.StatusNotFound && path != "/v1/auth/sessions/{id}" || got == http.StatusMethodNotAllowed {
				t.Errorf("%s %s: got %d, want it routed", method, p, got)
			}
		}
	}
}
