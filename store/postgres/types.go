package postgres

import (
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// registerTypes teaches a connection's type map to send Go strings as
// uuid values in binary format.
//
// The store passes customer and segment ids as strings, and its bulk
// statements take them as arrays (uuid[] of thousands of ids). pgx prefers
// the binary format for an array parameter, and its uuid codec has no
// binary plan for strings: every such parameter first failed to encode,
// with an error message that formats the whole slice, and was then sent as
// text. In a re-assessment of 1,000,000 customers that was 230 MB of
// error messages and the text encoding of every id (the heap profile of
// `potential bench`'s fit scenario, docs/BENCHMARKS.md). With this codec
// an array of ids is encoded once, 16 bytes an id. A single string
// parameter is still sent as text, as pgx chooses for every string.
func registerTypes(m *pgtype.Map) {
	u := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: stringUUIDCodec{}}
	m.RegisterType(u)
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: u}})
}

// stringUUIDCodec is pgx's uuid codec with a binary encode plan for
// strings.
type stringUUIDCodec struct{ pgtype.UUIDCodec }

func (c stringUUIDCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(string); ok && format == pgtype.BinaryFormatCode {
		return encodeStringUUID{}
	}
	return c.UUIDCodec.PlanEncode(m, oid, format, value)
}

type encodeStringUUID struct{}

func (encodeStringUUID) Encode(value any, buf []byte) ([]byte, error) {
	s := value.(string)
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return nil, fmt.Errorf("invalid uuid %q", s)
	}
	return append(buf, u[:]...), nil
}
