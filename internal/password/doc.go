// Package password hashes and verifies user passwords.
//
// New hashes are argon2id in the PHC string format, so they can be read by
// any other argon2 implementation. Verify also accepts bcrypt digests so users
// imported from Rails (has_secure_password, Devise) can sign in; NeedsRehash
// tells the caller to replace such digests with argon2id on the next
// successful sign-in.
//
// Hashing is deliberately expensive in memory and CPU, so a Limiter bounds how
// many hashes run at once, and DummyVerify lets the caller spend the same time
// on an unknown account as on a wrong password. IsCommon checks a candidate
// password against an embedded list of commonly used passwords.
package password
