//go:build linux

package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestDeploy checks the Dockerfile and the systemd unit without a
// container engine or systemd running (CI has neither): it builds the
// binary with the Dockerfile's own go build line, checks that it is
// static, runs it as the image's unprivileged user on a fresh data
// folder, and verifies deploy/gatehouse.service with systemd-analyze.
func TestDeploy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binary; skipped with -short")
	}
	if os.Geteuid() != 0 {
		needInCI(t, "TestDeploy runs the binary as the image's user, which needs root")
	}
	img := readDockerfile(t, "../../Dockerfile")
	base, err := os.MkdirTemp("", "gatehouse-deploy-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	// Readable by the unprivileged user, unlike the 0700 default.
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	const version, commit = "v0.0.0-deploytest", "0123abc"
	build := exec.Command("sh", "-c", strings.ReplaceAll(img.build, "/out/", base+"/"))
	build.Dir = "../.."
	build.Env = append(os.Environ(), "VERSION="+version, "COMMIT="+commit)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", img.build, err, out)
	}
	bin := filepath.Join(base, "gatehouse")

	t.Run("static", func(t *testing.T) {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("%s has a %v program header: not static, distroless/static cannot run it", bin, p.Type)
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("%s needs %q: not static", bin, libs)
		}
	})

	t.Run("version_from_ldflags", func(t *testing.T) {
		out, err := exec.Command(bin, "--version").CombinedOutput()
		if want := "gatehouse " + version + " (commit " + commit + ", go"; err != nil || !strings.HasPrefix(string(out), want) {
			t.Errorf("%s --version: got %q (%v), want it to start %q", bin, out, err, want)
		}
	})

	t.Run("serves_as_image_user", func(t *testing.T) {
		data := filepath.Join(base, "data")
		if err := os.Mkdir(data, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(data, img.uid, img.gid); err != nil {
			t.Fatal(err)
		}
		env := img.envWith(data, "127.0.0.1:0")
		var stdout, stderr lockedBuffer
		srv := exec.Command(bin, img.cmd...)
		srv.Env, srv.Stdout, srv.Stderr = env, &stdout, &stderr
		srv.SysProcAttr = asUser(img.uid, img.gid)
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			srv.Process.Signal(syscall.SIGTERM)
			if err := srv.Wait(); err != nil {
				t.Errorf("server exit after SIGTERM: %v; stderr:\n%s", err, stderr.String())
			}
		}()
		url := waitForURL(t, &stdout)

		// The image's HEALTHCHECK, with the image's GATEHOUSE_ADDR form
		// (":port", no host).
		_, port, _ := strings.Cut(strings.TrimPrefix(url, "http://"), ":")
		hc := exec.Command(bin, img.healthcheck[1:]...)
		hc.Env = append(env, "GATEHOUSE_ADDR=:"+port)
		hc.SysProcAttr = asUser(img.uid, img.gid)
		if out, err := hc.CombinedOutput(); err != nil {
			t.Errorf("%q: %v\n%s", img.healthcheck, err, out)
		}

		fi, err := os.Stat(filepath.Join(data, "gatehouse.db"))
		if err != nil {
			t.Fatalf("database in the volume: %v; stderr:\n%s", err, stderr.String())
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != img.uid {
			t.Errorf("database file: got owner %d, want %d", st.Uid, img.uid)
		}
	})

	t.Run("unwritable_data_folder", func(t *testing.T) {
		data := filepath.Join(base, "root-only")
		if err := os.Mkdir(data, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, img.cmd...)
		cmd.Env = img.envWith(data, "127.0.0.1:0")
		cmd.SysProcAttr = asUser(img.uid, img.gid)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), data) || !strings.Contains(string(out), "may not create files") {
			t.Errorf("serve with a data folder it may not write: got %v, output %q; want exit 1 naming %s and the permission", err, out, data)
		}
	})

	t.Run("systemd_unit", func(t *testing.T) {
		verifyUnit(t, "../../deploy/gatehouse.service", bin)
	})
}

// image is what the tests need from the Dockerfile.
type image struct {
	build       string            // the go build command line
	uid, gid    int               // USER
	env         map[string]string // ENV
	cmd         []string          // CMD (exec form)
	healthcheck []string          // HEALTHCHECK CMD (exec form)
}

var (
	dockerUser  = regexp.MustCompile(`^USER (\d+):(\d+)$`)
	dockerEnv   = regexp.MustCompile(`(\w+)=(\S+)`)
	dockerExec  = regexp.MustCompile(`"([^"]*)"`)
	dockerFinal = regexp.MustCompile(`^FROM (gcr\.io/distroless/static\S*|scratch)$`)
)

// readDockerfile parses the few instructions the tests rely on and checks
// the promises that cannot be run here: a shell-less final stage, a
// numeric non-root user, a volume for the data, exec-form commands.
func readDockerfile(t *testing.T, path string) image {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, drop comments.
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") {
			continue
		}
		if s, ok := strings.CutSuffix(l, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(l)
		if cur.Len() > 0 {
			lines = append(lines, strings.Join(strings.Fields(cur.String()), " "))
		}
		cur.Reset()
	}
	img := image{env: map[string]string{}}
	var final, volume string
	for _, l := range lines {
		switch instr, rest, _ := strings.Cut(l, " "); instr {
		case "FROM":
			final = l
		case "RUN":
			if strings.Contains(rest, "go build") {
				img.build = rest
			}
		case "USER":
			m := dockerUser.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("%s: %q: want a numeric USER uid:gid, so Kubernetes' runAsNonRoot can check it", path, l)
			}
			img.uid, _ = strconv.Atoi(m[1])
			img.gid, _ = strconv.Atoi(m[2])
		case "ENV":
			for _, m := range dockerEnv.FindAllStringSubmatch(rest, -1) {
				img.env[m[1]] = m[2]
			}
		case "VOLUME":
			volume = rest
		case "CMD":
			img.cmd = execForm(t, l, rest)
		case "HEALTHCHECK":
			_, c, _ := strings.Cut(rest, "CMD ")
			img.healthcheck = execForm(t, l, c)
		}
	}
	switch {
	case !dockerFinal.MatchString(final):
		t.Errorf("%s: final stage %q: want distroless/static or scratch (no shell)", path, final)
	case img.build == "" || !strings.HasPrefix(img.build, "CGO_ENABLED=0 "):
		t.Errorf("%s: go build line %q: want CGO_ENABLED=0 (a static binary)", path, img.build)
	case img.uid == 0:
		t.Errorf("%s: USER %d: want non-root", path, img.uid)
	case !strings.Contains(volume, `"/data"`) || !strings.HasPrefix(img.env["GATEHOUSE_DB"], "sqlite:/data/"):
		t.Errorf("%s: VOLUME %s, GATEHOUSE_DB %q: want the database under the /data volume", path, volume, img.env["GATEHOUSE_DB"])
	case len(img.healthcheck) < 2 || img.healthcheck[0] != "/usr/local/bin/gatehouse":
		t.Errorf("%s: HEALTHCHECK %q: want the binary's healthcheck command", path, img.healthcheck)
	}
	if t.Failed() {
		t.FailNow()
	}
	return img
}

// execForm reads ["a", "b"]: the shell form would need a shell the image
// does not have.
func execForm(t *testing.T, line, args string) []string {
	t.Helper()
	if !strings.HasPrefix(strings.TrimSpace(args), "[") {
		t.Fatalf("%q: want the exec form [\"…\"]: the image has no shell", line)
	}
	var out []string
	for _, m := range dockerExec.FindAllStringSubmatch(args, -1) {
		out = append(out, m[1])
	}
	return out
}

// envWith is the image's environment with /data moved to data and the
// listen address replaced (the image's :3000 may be taken here).
func (img image) envWith(data, addr string) []string {
	env := []string{"PATH=/usr/bin:/bin"}
	for k, v := range img.env {
		switch k {
		case "GATEHOUSE_ADDR":
			v = addr
		case "GATEHOUSE_DB":
			v = strings.Replace(v, "/data/", data+"/", 1)
		}
		env = append(env, k+"="+v)
	}
	return env
}

func asUser(uid, gid int) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
}

// verifyUnit runs systemd-analyze verify on the unit, pointing ExecStart
// at bin (verify checks that the program exists). Warnings such as an
// unknown key or a bad value are printed with exit status 0, so any output
// fails too. systemd need not be running: verify only loads files.
func verifyUnit(t *testing.T, path, bin string) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		needInCI(t, "systemd-analyze not found (Debian package systemd; .ci/run installs it)")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const exe = "ExecStart=/usr/local/bin/gatehouse "
	if !bytes.Contains(raw, []byte(exe)) {
		t.Fatalf("%s: want %q", path, exe)
	}
	unit := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(unit, bytes.Replace(raw, []byte(exe), []byte("ExecStart="+bin+" "), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"verify", unit},
		// Exposure 0 (locked down) … 10 (unprotected); the unit scores 1.4.
		{"security", "--offline=true", "--threshold=20", unit},
	} {
		out, err := exec.Command(analyze, args...).CombinedOutput()
		if err != nil || (args[0] == "verify" && len(out) > 0) {
			t.Errorf("systemd-analyze %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// needInCI skips locally but fails in CI, where every check must run.
func needInCI(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}
