/** The legacy plain dump's completion trailer, checked before a `.sql.gz` is loaded. */
import * as assert from "node:assert/strict";
import { hasDumpTrailer } from "../../../datapath/restore/fetch";

describe("datapath plain dump trailer", () => {
  it("accepts pg_dump's trailer, with or without the \\unrestrict line, and nothing else", () => {
    const t = "COPY x\n\\.\n\n--\n-- PostgreSQL database dump complete\n--\n\n";
    assert.ok(hasDumpTrailer(t));
    assert.ok(hasDumpTrailer(`${t}\\unrestrict abc123\n\n`));
    assert.ok(!hasDumpTrailer("COPY x\n1\t2\n"));
    assert.ok(!hasDumpTrailer(`${t}CREATE TABLE y ();\n`));
  });
});
