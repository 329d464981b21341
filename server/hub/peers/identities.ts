/**
 * Who a browser is. The hub gives each participant an id and a credential (an HMAC of the id
 * with a secret kept in the database, the same for every hub); the browser keeps both and
 * presents them in every hello. Only the credential proves the id: a hello with someone
 * else's id and no (or a wrong) credential is a new participant, so it cannot edit or delete
 * that person's notes.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PeerQueries } from '../storage/peers';

const SECRET_NAME = 'participant-credentials';

export interface Identity {
  id: string;
  credential: string;
}

export async function createIdentities(peers: Pick<PeerQueries, 'secret'>) {
  const secret = await peers.secret(SECRET_NAME, randomBytes(32).toString('base64url'));
  const credentialOf = (id: string) => createHmac('sha256', secret).update(id).digest('base64url');
  return {
    /**
     * The participant a hello is: the one it names when its credential proves it, else a new
     * one (with a fresh id and its credential).
     */
    resolve(claimed: {
      participantId?: string;
      credential?: string;
    }): Identity & { known: boolean } {
      if (claimed.participantId && claimed.credential) {
        const expected = Buffer.from(credentialOf(claimed.participantId));
        const presented = Buffer.from(claimed.credential);
        if (expected.length === presented.length && timingSafeEqual(expected, presented)) {
          return { id: claimed.participantId, credential: claimed.credential, known: true };
        }
      }
      const id = randomBytes(12).toString('base64url');
      return { id, credential: credentialOf(id), known: false };
    },
  };
}
export type Identities = Awaited<ReturnType<typeof createIdentities>>;
