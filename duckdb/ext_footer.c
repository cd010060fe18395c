/*
 * duckdb/ext_footer.c — append DuckDB's extension metadata footer to a
 * shared library, making it a loadable `<name>.duckdb_extension`.
 *
 * DuckDB reads the last 512 bytes of an extension file: 8 metadata fields of
 * 32 bytes each (NUL-padded, stored last field first), then a 256-byte
 * signature (zeros: unsigned; DuckDB then needs allow_unsigned_extensions).
 * Before them goes a 22-byte WebAssembly custom-section header (section id
 * 0, LEB128 length 531, name length 16, "duckdb_signature", LEB128 length
 * 512) so that the same layout is valid for Wasm builds: 534 bytes in all.
 * The fields, in reading order: magic "4", platform, the DuckDB version (for
 * the C_STRUCT ABI: the minimum C API version, e.g. "v1.2.0"), the
 * extension version, the ABI type ("C_STRUCT"), then three empty fields.
 *
 * Usage: ext_footer IN OUT PLATFORM CAPI_VERSION EXT_VERSION
 * Copies IN to OUT and appends the footer; exit status 0 or 1 with a
 * message.  A build tool: no invariants beyond "OUT is complete or absent".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD_BYTES 32
#define NFIELDS 8

static int put_field(FILE *f, const char *s)
{
	char buf[FIELD_BYTES] = {0};
	size_t n = strlen(s);
	if (n > FIELD_BYTES)
		return -1;
	memcpy(buf, s, n);
	return fwrite(buf, 1, FIELD_BYTES, f) == FIELD_BYTES ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: ext_footer IN OUT PLATFORM CAPI_VERSION EXT_VERSION\n");
		return 1;
	}
	FILE *in = fopen(argv[1], "rb");
	if (!in) {
		fprintf(stderr, "ext_footer: could not open \"%s\"\n", argv[1]);
		return 1;
	}
	FILE *out = fopen(argv[2], "wb");
	if (!out) {
		fprintf(stderr, "ext_footer: could not create \"%s\"\n", argv[2]);
		fclose(in);
		return 1;
	}
	int rc = 0;
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (ferror(in))
		rc = -1;
	fclose(in);
	/* the Wasm custom-section header: id 0, size 531 (LEB128 0x93 0x04),
	 * name length 16, the name, payload size 512 (LEB128 0x80 0x04) */
	static const unsigned char head[] = {0x00, 0x93, 0x04, 0x10};
	static const unsigned char tail[] = {0x80, 0x04};
	if (fwrite(head, 1, sizeof(head), out) != sizeof(head) ||
	    fwrite("duckdb_signature", 1, 16, out) != 16 ||
	    fwrite(tail, 1, sizeof(tail), out) != sizeof(tail))
		rc = -1;
	const char *fields[NFIELDS] = {"4", argv[3], argv[4], argv[5], "C_STRUCT", "", "", ""};
	for (int i = NFIELDS - 1; i >= 0 && rc == 0; i--)
		rc = put_field(out, fields[i]);
	char sig[256] = {0};
	if (rc == 0 && fwrite(sig, 1, sizeof(sig), out) != sizeof(sig))
		rc = -1;
	if (fclose(out) != 0)
		rc = -1;
	if (rc) {
		fprintf(stderr, "ext_footer: could not write \"%s\"\n", argv[2]);
		remove(argv[2]);
		return 1;
	}
	return 0;
}
