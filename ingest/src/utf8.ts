const decoder = new TextDecoder('utf-8', { fatal: false });

export function utf8(payload: Buffer): string | undefined {
  const text = decoder.decode(payload);
  return text.includes('\uFFFD') ? undefined : text;
}
