package railsimport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// maxRecord bounds one row of an export, a CSV record or a JSON
// line: a users row is a few hundred bytes, and without a bound one 200 MB
// field made the reader hold close to a gigabyte.
const maxRecord = 64 << 10

// csvRecords hands CSV input to encoding/csv one record at a time, holding
// at most maxRecord bytes of it: csv.Reader itself keeps a whole
// record (even a whole line) in memory however long it is. A record that
// is longer is dropped and replaced by as many empty lines as it spanned,
// which csv.Reader skips, so the lines it reports for later rows stay
// right; its first line is queued in dropped for the import report.
//
// A record ends at a newline outside quotes, i.e. after an even number of
// double quotes (RFC 4180 escapes a quote by doubling it). encoding/csv
// never runs a record past that point, so its records are never longer
// than ours.
type csvRecords struct {
	r       *bufio.Reader
	rec     []byte  // the record being read
	out     []byte  // what Read hands on next
	blank   int64   // then as many newlines, standing in for a dropped record
	dropped []int64 // first lines of the records that were too long
	line    int64   // lines consumed
	err     error   // of the input, returned once out is drained
}

func newCSVRecords(r io.Reader) *csvRecords {
	return &csvRecords{r: bufio.NewReaderSize(r, maxRecord)}
}

func (c *csvRecords) Read(p []byte) (int, error) {
	for len(c.out) == 0 && c.blank == 0 {
		if c.err != nil {
			return 0, c.err
		}
		c.fill()
	}
	if len(c.out) > 0 {
		n := copy(p, c.out)
		c.out = c.out[n:]
		return n, nil
	}
	n := int(min(int64(len(p)), c.blank))
	for i := range n {
		p[i] = '\n'
	}
	c.blank -= int64(n)
	return n, nil
}

// fill reads the next record into out.
func (c *csvRecords) fill() {
	c.rec = c.rec[:0]
	first := c.line + 1
	var quotes, lines int64
	tooLong := false
	for {
		b, err := c.r.ReadSlice('\n')
		quotes += int64(bytes.Count(b, []byte{'"'}))
		if !tooLong && len(c.rec)+len(b) > maxRecord {
			tooLong, c.rec = true, c.rec[:0]
		}
		if !tooLong {
			c.rec = append(c.rec, b...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(b) > 0 && b[len(b)-1] == '\n' {
			lines++
		}
		if err != nil {
			c.err = err
			break
		}
		if quotes%2 == 0 {
			break
		}
	}
	c.line += lines
	c.out = c.rec
	if tooLong {
		c.dropped = append(c.dropped, first)
		c.blank = lines
	}
}

// dropped reports the next record csvRecords dropped for its length.
func (c *csvRows) dropped() (auth.ImportRow, bool) {
	if len(c.in.dropped) == 0 {
		return auth.ImportRow{}, false
	}
	line := c.in.dropped[0]
	c.in.dropped = c.in.dropped[1:]
	return auth.ImportRow{Line: line, Bad: fmt.Sprintf("record is longer than %d KiB", maxRecord>>10)}, true
}
