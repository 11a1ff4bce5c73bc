package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strconv"
)

// Device tokens follow OWASP's device-cookie defence against password
// guessing: a device that has signed in to an account successfully is
// given a token that, presented with a later sign-in to that account,
// has it judged by the device's own failure budget instead of the
// account-wide back-off. An attacker guessing from elsewhere then blocks
// only unknown devices, never the owner's.
//
// A token is base64url(user id ‖ nonce ‖ MAC), the MAC over the account's
// normalized email, the user id and the nonce with a key derived from the
// service key. It is checked before the user is looked up, against the
// email being signed into, so one account's token is worthless for
// another's; the user id then guards against an email deleted and
// registered again. Nothing is stored but the device's back-off, keyed by
// the nonce. A token grants no access, only a budget: stealing one gives
// what the device's own address would have, five free guesses and then
// back-off.
type deviceKeys struct {
	key []byte
}

type deviceToken struct {
	userID int64
	nonce  [16]byte
}

const deviceTokenLen = 8 + 16 + 16

func newDeviceKeys(signingKey []byte) deviceKeys {
	return deviceKeys{key: mac(signingKey, "gatehouse/device-token/v1")}
}

func (k deviceKeys) mac(email string, d deviceToken) []byte {
	return mac(k.key, email, strconv.FormatInt(d.userID, 10), string(d.nonce[:]))[:16]
}

// issue returns a new device token for user id, email.
func (k deviceKeys) issue(userID int64, email string) string {
	d := deviceToken{userID: userID}
	rand.Read(d.nonce[:])
	b := binary.BigEndian.AppendUint64(nil, uint64(d.userID))
	b = append(b, d.nonce[:]...)
	b = append(b, k.mac(email, d)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// parse returns the device of tok if it was issued for email, else nil.
func (k deviceKeys) parse(tok, email string) *deviceToken {
	if tok == "" || base64.RawURLEncoding.DecodedLen(len(tok)) != deviceTokenLen {
		return nil
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || len(b) != deviceTokenLen {
		return nil
	}
	d := deviceToken{userID: int64(binary.BigEndian.Uint64(b))}
	copy(d.nonce[:], b[8:24])
	if subtle.ConstantTimeCompare(b[24:], k.mac(email, d)) != 1 {
		return nil
	}
	return &d
}

// id keys the device's budget.
func (d *deviceToken) id() string { return hex.EncodeToString(d.nonce[:]) }
