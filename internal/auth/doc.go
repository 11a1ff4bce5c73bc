// Package auth is Gatehouse's domain: users, sessions, the budgets every
// flow shares, and Service, which carries out each use case. It imports
// only password, token and csrf; every other package imports it.
//
// # Where things are
//
//   - Types and contracts: user.go, session.go, error.go (Error and its
//     codes), event.go; store.go (Store, what every backend implements),
//     counter.go (Counter), backend.go (what a backend may offer beyond
//     Store: a shared counter, a change feed, a disk probe), clock.go.
//   - Flows, one file each: register.go, signin.go, refresh.go,
//     signout.go, authenticate.go, account.go, email.go, recovery.go,
//     device.go, import.go (storing already-parsed users; the Rails
//     export formats are package railsimport's), stepup.go (the second
//     step of a sign-in, passwordless sign-in, step-up), import_sessions.go
//     (storing already-read sessions; the jwt_sessions store is package
//     jwtsessions').
//   - Second factors: factor.go (Method, SecondFactor, AAL). Each kind
//     of factor lives in a package beside auth that owns its secrets
//     (mfa: TOTP and recovery codes; passkey: WebAuthn), implements
//     SecondFactor, and is registered by cmd with AddSecondFactor.
//   - Shared machinery: grant.go, commit.go and secrets.go (issuing and
//     committing sessions), imported.go (an imported session's first
//     generation, which runs on the secrets it came with), extension.go
//     (the clock, an address budget, Commit and Audit for packages beside
//     auth that keep records of their own), cache.go (the session cache, all of it: what
//     enters it, when it is trusted, how store reads and the change feed
//     merge into it), limits.go, pace.go and
//     memcounter.go (budgets), validate.go, outbox.go and mail.go (the
//     mail outbox's domain side; rendering and sending are package mail's).
//
// # Who calls Service
//
// Service's methods serve three audiences, and each method's doc says
// which rules apply to it:
//
//   - the API (package httpapi): Register, SignIn, Refresh, SignOut,
//     Authenticate and the account, e-mail and recovery flows. Every one
//     is budgeted and answers in the closed set of Error codes.
//   - the factor packages (mfa, passkey), after httpapi: they check their
//     own secrets inside VerifyFactor (the budgets), then ask auth to
//     record what was proven: FinishSecondFactor (a pending sign-in
//     becomes a session), SignInWithFactor (a passkey sign-in),
//     Reauthenticated (a step-up); RequireRecentAuth guards their
//     dangerous changes, SecondFactors says what a user has.
//
// A password sign-in of a user with any enrolled second factor starts a
// pending session (Session.Pending; --mfa-pending-ttl): its tokens get
// 401 mfa_required everywhere but the endpoints httpapi serves with
// secondStep. A session records the methods of its sign-in (its AAL) and
// its last proof of its user (AuthenticatedAt, AuthenticatedBy).
//   - the admin CLI (cmd/gatehouse): admin.go (FindUser, CreateUser,
//     Users, LockUser, UnlockUser, DeleteUser, UserSessions,
//     RevokeSessionByID), Mails and RetryMail, SendReset, ImportUsers,
//     ImportSessions.
//   - cluster plumbing (cmd/gatehouse's wiring): SessionChanged and
//     SetFeedHealthy (the change feed), SyncClock and ClockReady,
//     NextMail and MailDone (package mail's delivery loop),
//     AccessTokenChanges and
//     NewSessionToken (tokenchanges.go: package jwtsessions' bridge), and
//     the gauges package metrics reads.
//
// # Where a new capability lives
//
// See docs/architecture.md, "Where a new capability lives": a capability
// with its own dependency or its own credential kind is a package beside
// auth that uses auth's interfaces (as mail, keyring and railsimport do);
// one that changes what every flow shares is a file set inside auth.
package auth
