import { isSckToken } from './ids.ts';

/**
 * SCK tokens are credentials (a stock kit sends nothing else), and a kit's client id and topics carry
 * its token: logs show the first character and stars. Any 6-character client id of the token alphabet
 * is masked, whether or not it is a registered token (a guess may be one).
 */
export const maskClientId = (clientId: string | null | undefined): string | null =>
  clientId == null ? null : isSckToken(clientId) ? `${clientId[0]}*****` : clientId;

/** `device/sck/{token}/...` with the token masked; other topics as they are. */
export const maskTopic = (topic: string | undefined): string | undefined =>
  topic?.replace(/^device\/sck\/([^/]*)/, (_m, token: string) => `device/sck/${maskClientId(token)}`);
