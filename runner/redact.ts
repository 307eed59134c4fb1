/**
 * The last line of defence for "never a secret": whatever the runner writes to its journal or
 * the incident record passes through here. Secrets should not get this far (config and state are
 * read without --show-secrets, secret outputs arrive as "[secret]", the data tool prints no
 * credentials), but a log line or a hand-set value could carry one, so values under secret-like
 * keys and credentials embedded in text are masked too.
 */
export const MASK = "[secret]";

/** Keys whose values are credentials whatever they hold. */
const SECRET_KEY =
  /pass(word|phrase)?|secret|token|credential|connection.?string|account.?key|access.?key|private.?key|sas\b|^key$|api.?key/i;

/** Credentials inside text: URL user info, key=value pairs of connection strings and SAS tokens. */
const IN_TEXT: [RegExp, string][] = [
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+@/gi, `$1${MASK}@`],
  [/\b(AccountKey|SharedAccessSignature|SharedAccessKey|Password|Pwd)=([^;\s"']+)/gi, `$1=${MASK}`],
  [/([?&](?:sig|se|sp|sv|skoid|sktid)=)[^&\s"']+/gi, `$1${MASK}`],
  [/\b(password|passphrase|token|secret)(["']?\s*[:=]\s*["']?)[^\s"',;}]+/gi, `$1$2${MASK}`],
  [
    /\b(PGPASSWORD|PULUMI_CONFIG_PASSPHRASE|GITHUB_TOKEN|AZURE_CLIENT_SECRET|ARM_CLIENT_SECRET)=\S+/g,
    `$1=${MASK}`,
  ],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, MASK],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}\b/g, MASK],
  [/\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b/g, MASK],
];

export function redactText(text: string): string {
  let out = text;
  for (const [re, to] of IN_TEXT) out = out.replace(re, to);
  return out;
}

/** A deep copy with secret-keyed values and credentials in strings masked. */
export function redact<T>(value: T): T {
  return redactValue(value, undefined) as T;
}

function redactValue(value: unknown, keyName: string | undefined): unknown {
  if (keyName !== undefined && SECRET_KEY.test(keyName) && value !== null && value !== undefined) {
    if (typeof value !== "boolean" && typeof value !== "number") return MASK;
  }
  if (typeof value === "string") return redactText(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, undefined));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, redactValue(v, k)]),
    );
  }
  return value;
}
