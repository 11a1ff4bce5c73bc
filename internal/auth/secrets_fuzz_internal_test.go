package auth

import "testing"

// FuzzParseRefreshToken: a refresh token arrives from the client as
// untrusted bytes. Whatever they are, parsing must not panic, and it may
// accept only the exact spelling this service issues for the session and
// generation it returns (a token altered in any byte, even one its
// decoding ignores, is refused). Every session id round-trips while the
// token fits the length bound.
func FuzzParseRefreshToken(f *testing.F) {
	k := keysOf(1)
	for _, s := range []string{
		k.refreshToken(sessionA, 7),
		flipSpareBit(k.refreshToken(sessionA, 7)),
		k.refreshToken(sessionB, 1<<63-1),
		"v1..0.",
		"v1.\n.7.\r",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if id, gen, ok := k.parseRefreshToken(tok); ok {
			if want := k.refreshToken(id, gen); gen < 0 || tok != want {
				t.Errorf("parseRefreshToken(%q) = %q, %d, true; want only the issued spelling %q", tok, id, gen, want)
			}
		}
		// tok as a session id: any bytes a store might hold.
		gen := int64(len(tok))
		issued := k.refreshToken(tok, gen)
		if len(issued) > 256 {
			return
		}
		if id, g, ok := k.parseRefreshToken(issued); !ok || id != tok || g != gen {
			t.Errorf("parseRefreshToken(refreshToken(%q, %d)) = %q, %d, %t; want the same back", tok, gen, id, g, ok)
		}
	})
}
