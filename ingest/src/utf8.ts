const decoder = new TextDecoder('utf-8', { fatal: false });

/** The payload as text, or undefined when its bytes are not UTF-8 (the decoder put a replacement character). */
export function utf8(payload: Buffer): string | undefined {
  const text = decoder.decode(payload);
  return text.includes('\uFFFD') ? undefined : text;
}
