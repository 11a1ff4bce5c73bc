package authtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// Authenticator is a software WebAuthn authenticator for tests without a
// browser: it holds one ES256 passkey and answers the JSON a server's
// begin endpoints send (the options of navigator.credentials.create and
// get) with the JSON a browser's PublicKeyCredential.toJSON() would post
// back, attestation "none". Origin and Count are the browser's and the
// authenticator's state, which tests change to play a phishing page or a
// clone. Safe for concurrent use.
type Authenticator struct {
	mu     sync.Mutex
	Origin string
	// Count is the signature counter; each assertion adds one, unless
	// it is zero (an authenticator that keeps no counter).
	Count  uint32
	key    *ecdsa.PrivateKey
	id     []byte
	handle []byte
	rpID   string
}

// NewAuthenticator returns an authenticator with no passkey yet, acting
// for a page at origin, counting signatures from 0 (so the first is 1).
func NewAuthenticator(origin string) *Authenticator {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	return &Authenticator{Origin: origin, key: key, id: id}
}

// ID is the passkey's credential id as the API shows it (base64url).
func (a *Authenticator) ID() string { return b64(a.id) }

// SetCount sets the signature counter, as a clone's would be.
func (a *Authenticator) SetCount(n uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Count = n
}

// SetOrigin changes the page the next ceremony runs on.
func (a *Authenticator) SetOrigin(origin string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Origin = origin
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// creationOptions and requestOptions are the parts of the begin answers
// an authenticator reads.
type creationOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"publicKey"`
}

type requestOptions struct {
	PublicKey struct {
		Challenge        string `json:"challenge"`
		RPID             string `json:"rpId"`
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

// Flags of authenticator data: user present, user verified, backup
// eligible and backed up (a synced passkey), attested credential data.
const (
	flagUP byte = 0x01
	flagUV byte = 0x04
	flagBE byte = 0x08
	flagBS byte = 0x10
	flagAT byte = 0x40
)

// Create answers the options of navigator.credentials.create with a new
// credential (the authenticator's one key, under the user handle given).
func (a *Authenticator) Create(options []byte) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var o creationOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("authenticator: creation options: %w", err)
	}
	handle, err := base64.RawURLEncoding.DecodeString(o.PublicKey.User.ID)
	if err != nil {
		return nil, fmt.Errorf("authenticator: user id: %w", err)
	}
	a.handle, a.rpID = handle, o.PublicKey.RP.ID
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, // P-256
		XCoord:        a.key.X.FillBytes(make([]byte, 32)),
		YCoord:        a.key.Y.FillBytes(make([]byte, 32)),
	})
	if err != nil {
		return nil, err
	}
	attested := make([]byte, 16, 16+2+len(a.id)+len(cose)) // zero AAGUID, as attestation "none" reports
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(a.id)))
	attested = append(append(attested, a.id...), cose...)
	authData := a.authData(flagUP|flagUV|flagBE|flagBS|flagAT, a.Count, attested)
	object, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData})
	if err != nil {
		return nil, err
	}
	return a.credential(map[string]any{
		"clientDataJSON":    b64(a.clientData("webauthn.create", o.PublicKey.Challenge)),
		"attestationObject": b64(object),
		"transports":        []string{"internal", "hybrid"},
	})
}

// credential is the JSON of a PublicKeyCredential with response.
func (a *Authenticator) credential(response map[string]any) ([]byte, error) {
	return json.Marshal(map[string]any{
		"id": b64(a.id), "rawId": b64(a.id), "type": "public-key", "authenticatorAttachment": "platform",
		"clientExtensionResults": map[string]any{}, "response": response,
	})
}

// Get answers the options of navigator.credentials.get with an assertion
// of the authenticator's passkey, which must have been created.
func (a *Authenticator) Get(options []byte) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("authenticator: request options: %w", err)
	}
	if a.handle == nil {
		return nil, fmt.Errorf("authenticator: no passkey created yet")
	}
	if o.PublicKey.RPID != a.rpID {
		return nil, fmt.Errorf("authenticator: request for rp %q, passkey is for %q", o.PublicKey.RPID, a.rpID)
	}
	if a.Count != 0 {
		a.Count++
	}
	authData := a.authData(flagUP|flagUV|flagBE|flagBS, a.Count, nil)
	clientData := a.clientData("webauthn.get", o.PublicKey.Challenge)
	digest := sha256.Sum256(clientData)
	signed := sha256.Sum256(append(authData, digest[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, signed[:])
	if err != nil {
		return nil, err
	}
	return a.credential(map[string]any{
		"clientDataJSON":    b64(clientData),
		"authenticatorData": b64(authData),
		"signature":         b64(sig),
		"userHandle":        b64(a.handle),
	})
}

func (a *Authenticator) authData(flags byte, count uint32, attested []byte) []byte {
	rpIDHash := sha256.Sum256([]byte(a.rpID))
	d := append(rpIDHash[:], flags)
	d = binary.BigEndian.AppendUint32(d, count)
	return append(d, attested...)
}

func (a *Authenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return b
}
