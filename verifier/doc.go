// Package verifier lets a Go service trust Gatehouse access tokens
// without asking Gatehouse on every request, and still stop accepting a
// token the moment its session is signed out, revoked or refreshed past.
//
// It checks each token locally (its signature with the shared HS256 key,
// or with Gatehouse's public keys from /.well-known/jwks.json; its expiry)
// and follows Gatehouse's revocation stream (GET /v1/auth/revocations) in
// the background, so a request costs no network call. When the stream has
// been silent for longer than Config.MaxSilence (Gatehouse down, a
// partition) the verifier cannot know what was revoked meanwhile, and
// refuses every token with 503 until the stream is back: it fails closed.
// On reconnecting it resumes from its last position, so nothing is missed.
//
// # Five minutes
//
// Create a service token on the Gatehouse host:
//
//	gatehouse service-tokens create orders-api   # prints ghst_…
//
// Then, in the service:
//
//	v, err := verifier.New(verifier.Config{
//		URL:          "https://auth.example.com",   // Gatehouse
//		ServiceToken: os.Getenv("GATEHOUSE_SERVICE_TOKEN"),
//		HS256Key:     []byte(os.Getenv("GATEHOUSE_SECRET")), // or nil: EdDSA/ES256 via JWKS
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	go v.Run(ctx) // follows the revocation stream until ctx ends
//
//	mux.Handle("GET /orders", v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//		p, _ := verifier.FromContext(r.Context())
//		fmt.Fprintf(w, "orders of user %d (session %s)", p.UserID, p.SessionID)
//	})))
//
// The middleware reads the token from "Authorization: Bearer …" or, for
// GET, HEAD and OPTIONS only, the jwt_access cookie (Config.CookieName: a
// cookie-authenticated change needs Gatehouse's CSRF check, which only
// Gatehouse can make), and answers 401
// {"error":"Not authorized","code":"not_authorized"} for a missing,
// invalid, expired, revoked or replaced token, and 503
// {"code":"unavailable"} while the stream is silent. Handlers read the
// caller with FromContext. Verify does the same check for other transports
// (gRPC, a message queue).
//
// A complete program is in examples/downstream.
//
// # What a refresh retires
//
// A refresh gives the session a new access token; the previous one stays
// valid for Gatehouse's refresh grace (10 s by default) and then is
// retired, like every older one. The stream's "rotated" events say exactly
// that (uid, prev_uid, prev_until_ms), so a verifier accepts precisely the
// tokens Gatehouse itself accepts. A token newer than the last rotation
// the verifier heard of (higher exp) is accepted: its rotation is on its
// way down the stream.
package verifier
