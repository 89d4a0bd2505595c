import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Rejection, type Store, StoreConflictError } from './index.ts';

/** One backend under test: `open` may be called several times and opens the same database each time. */
export interface Backend {
  open(): Promise<Store>;
  dispose(): Promise<void>;
}

const T0 = new Date('2026-11-22T10:15:00.000Z');
const later = (s: number) => new Date(T0.getTime() + s * 1000);

/**
 * The store's behaviour, written once and run against every backend (STYLE §6). `makeBackend` gives a
 * fresh, empty database for each test.
 */
export function storeSuite(name: string, makeBackend: () => Promise<Backend>): void {
  describe(`store on ${name}`, () => {
    let backend: Backend;
    let store: Store;
    const opened: Store[] = [];
    const open = async () => {
      const s = await backend.open();
      opened.push(s);
      return s;
    };

    beforeEach(async () => {
      backend = await makeBackend();
      store = await open();
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
      await backend.dispose();
    });

    describe('devices', () => {
      it('creates a device, returns its secret once, and gets it back', async () => {
        const before = Date.now();
        const { device, secret, token } = await store.devices.create({
          id: 'kit-1',
          kind: 'native',
          operatorId: 'coop',
          name: 'Place Sainte-Anne',
          lat: 48.1143,
          lon: -1.6808,
          indoor: true,
        });
        expect(secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
        expect(token).toBeUndefined();
        expect(device).toEqual({
          id: 'kit-1',
          kind: 'native',
          operatorId: 'coop',
          name: 'Place Sainte-Anne',
          lat: 48.1143,
          lon: -1.6808,
          mobile: false,
          indoor: true,
          createdAt: expect.any(Date),
          lastSeenAt: null,
          firmware: null,
        });
        expect(device.createdAt.getTime()).toBeGreaterThanOrEqual(before);
        expect(await store.devices.get('kit-1')).toEqual(device);
        expect(await store.devices.get('kit-2')).toBeUndefined();
      });

      it('lists devices by id, filtered by kind and operator', async () => {
        await store.devices.create({ id: 'car-1', kind: 'vehicle', operatorId: 'coop', mobile: true });
        await store.devices.create({ id: 'b-kit', kind: 'airrohr' });
        await store.devices.create({ id: 'a-kit', kind: 'airrohr', operatorId: 'coop' });
        const ids = (list: { id: string }[]) => list.map((d) => d.id);
        expect(ids(await store.devices.list())).toEqual(['a-kit', 'b-kit', 'car-1']);
        expect(ids(await store.devices.list({ kind: 'airrohr' }))).toEqual(['a-kit', 'b-kit']);
        expect(ids(await store.devices.list({ operatorId: 'coop' }))).toEqual(['a-kit', 'car-1']);
        expect(ids(await store.devices.list({ kind: 'vehicle', operatorId: 'other' }))).toEqual([]);
        expect((await store.devices.get('car-1'))?.mobile).toBe(true);
      });

      it('verifies the right secret and refuses a wrong one or an unknown id', async () => {
        const { device, secret } = await store.devices.create({ id: 'kit-1', kind: 'native' });
        const other = await store.devices.create({ id: 'kit-2', kind: 'native' });
        expect(await store.devices.verifySecret('kit-1', secret!)).toEqual(device);
        expect(await store.devices.verifySecret('kit-1', `${secret}x`)).toBeUndefined();
        expect(await store.devices.verifySecret('kit-1', other.secret!)).toBeUndefined();
        expect(await store.devices.verifySecret('nobody', secret!)).toBeUndefined();
      });

      it('gives an sck kit a 6-character token and finds the kit by it', async () => {
        const a = await store.devices.create({ id: 'sck-a', kind: 'sck', lat: 48.1, lon: -1.7 });
        const b = await store.devices.create({ id: 'sck-b', kind: 'sck' });
        expect(a.token).toMatch(/^[a-z0-9]{6}$/);
        expect(a.secret).toBeUndefined();
        expect(a.token).not.toBe(b.token);
        expect(await store.devices.findBySckToken(a.token!)).toEqual(a.device);
        expect(await store.devices.findBySckToken(b.token!)).toEqual(b.device);
        const wrong = a.token === 'zzzzzz' ? 'zzzzzy' : 'zzzzzz';
        expect(await store.devices.findBySckToken(wrong)).toBeUndefined();
        expect(await store.devices.findBySckToken('NOT-A-TOKEN')).toBeUndefined();
        // A kit has no secret: its token is not a password for the id.
        expect(await store.devices.verifySecret('sck-a', a.token!)).toBeUndefined();
      });

      it('refuses a duplicate id with StoreConflictError', async () => {
        await store.devices.create({ id: 'kit-1', kind: 'native' });
        await expect(store.devices.create({ id: 'kit-1', kind: 'airrohr' })).rejects.toBeInstanceOf(
          StoreConflictError,
        );
        await expect(store.devices.create({ id: 'kit-1', kind: 'sck' })).rejects.toBeInstanceOf(
          StoreConflictError,
        );
        expect((await store.devices.get('kit-1'))?.kind).toBe('native');
      });

      it('moves last seen forward only and keeps the firmware until a new one is reported', async () => {
        await store.devices.create({ id: 'sck-a', kind: 'sck' });
        await store.devices.touch('sck-a', later(10), 'SCK 0.9.8');
        await store.devices.touch('sck-a', later(5));
        expect(await store.devices.get('sck-a')).toMatchObject({
          lastSeenAt: later(10),
          firmware: 'SCK 0.9.8',
        });
        await store.devices.touch('sck-a', later(20));
        expect(await store.devices.get('sck-a')).toMatchObject({
          lastSeenAt: later(20),
          firmware: 'SCK 0.9.8',
        });
        await store.devices.touch('sck-a', later(30), 'SCK 1.0');
        expect(await store.devices.get('sck-a')).toMatchObject({
          lastSeenAt: later(30),
          firmware: 'SCK 1.0',
        });
      });

      it('removes a device and its rejections', async () => {
        await store.devices.create({ id: 'kit-1', kind: 'native' });
        await store.rejections.add([rejection('kit-1', 1)]);
        expect(await store.devices.remove('kit-1')).toBe(true);
        expect(await store.devices.remove('kit-1')).toBe(false);
        expect(await store.devices.get('kit-1')).toBeUndefined();
        expect(await store.rejections.list('kit-1')).toEqual([]);
        await store.devices.create({ id: 'kit-1', kind: 'native' });
      });
    });

    describe('touchMany', () => {
      it('updates many devices in one call, the latest time per device, ignoring unknown ids', async () => {
        for (const id of ['a', 'b', 'c']) await store.devices.create({ id, kind: 'native' });
        await store.touchMany([
          { id: 'a', at: later(1) },
          { id: 'b', at: later(3), firmware: 'fw-b' },
          { id: 'a', at: later(7) },
          { id: 'a', at: later(4), firmware: 'fw-a-old' },
          { id: 'ghost', at: later(9) },
        ]);
        const seen = await store.devices.list();
        expect(seen.map((d) => [d.id, d.lastSeenAt?.toISOString() ?? null, d.firmware])).toEqual([
          ['a', later(7).toISOString(), 'fw-a-old'],
          ['b', later(3).toISOString(), 'fw-b'],
          ['c', null, null],
        ]);
        expect(await store.devices.get('ghost')).toBeUndefined();
        await store.touchMany([]);
      });

      it('handles more devices than one statement carries', async () => {
        // Ids nobody registered still fill the first statement, so the real ones land in later ones.
        const ghosts = Array.from({ length: 1100 }, (_, i) => ({ id: `ghost-${i}`, at: later(i) }));
        await store.devices.create({ id: 'first', kind: 'native' });
        await store.devices.create({ id: 'last', kind: 'native' });
        await store.touchMany([{ id: 'first', at: later(1) }, ...ghosts, { id: 'last', at: later(2) }]);
        const seen = await store.devices.list();
        expect(seen.map((d) => [d.id, d.lastSeenAt])).toEqual([
          ['first', later(1)],
          ['last', later(2)],
        ]);
      });
    });

    describe('operators', () => {
      it('creates an operator with a random token and finds it by that token only', async () => {
        const { operator, token } = await store.operators.create({ id: 'coop', name: 'Coop Mobilité' });
        expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expect(operator).toEqual({
          id: 'coop',
          name: 'Coop Mobilité',
          admin: false,
          createdAt: expect.any(Date),
        });
        expect(await store.operators.get('coop')).toEqual(operator);
        expect(await store.operators.verifyToken(token)).toEqual(operator);
        expect(await store.operators.verifyToken(`${token}x`)).toBeUndefined();
        expect(await store.operators.get('nobody')).toBeUndefined();
      });

      it('refuses a duplicate id or a token that is already taken', async () => {
        await store.operators.create({ id: 'coop', name: 'A', token: 'tok-1' });
        await expect(store.operators.create({ id: 'coop', name: 'B' })).rejects.toBeInstanceOf(
          StoreConflictError,
        );
        await expect(
          store.operators.create({ id: 'other', name: 'B', token: 'tok-1' }),
        ).rejects.toBeInstanceOf(StoreConflictError);
      });

      it('bootstraps the admin once, however often and however concurrently it is asked', async () => {
        const first = await store.operators.ensureBootstrapAdmin('bootstrap-secret');
        expect(first).toEqual({
          id: 'admin',
          name: 'Administrator',
          admin: true,
          createdAt: expect.any(Date),
        });
        expect(await store.operators.ensureBootstrapAdmin('bootstrap-secret')).toEqual(first);
        const second = await open();
        const both = await Promise.all([
          second.operators.ensureBootstrapAdmin('bootstrap-secret'),
          store.operators.ensureBootstrapAdmin('bootstrap-secret'),
        ]);
        expect(both).toEqual([first, first]);
        expect(await store.operators.verifyToken('bootstrap-secret')).toEqual(first);
      });

      it('gives the admin the new token when BOOTSTRAP_ADMIN_TOKEN changes', async () => {
        const first = await store.operators.ensureBootstrapAdmin('old-token');
        expect(await store.operators.ensureBootstrapAdmin('new-token')).toEqual(first);
        expect(await store.operators.verifyToken('new-token')).toEqual(first);
        expect(await store.operators.verifyToken('old-token')).toBeUndefined();
      });
    });

    describe('rejections', () => {
      it('lists newest first and keeps only the newest N per device', async () => {
        await store.rejections.add([1, 2, 3].map((i) => rejection('kit-1', i)));
        await store.rejections.add([rejection('kit-2', 100)]);
        await store.rejections.add(
          [4, 5].map((i) => rejection('kit-1', i)),
          3,
        );
        expect(await store.rejections.list('kit-1')).toEqual([5, 4, 3].map((i) => rejection('kit-1', i)));
        expect(await store.rejections.list('kit-1', 2)).toEqual([5, 4].map((i) => rejection('kit-1', i)));
        expect(await store.rejections.list('kit-2')).toEqual([rejection('kit-2', 100)]);
        expect(await store.rejections.list('nobody')).toEqual([]);
      });

      it('keeps 100 by default and truncates samples to 512 characters', async () => {
        const rows = Array.from({ length: 105 }, (_, i) => rejection('kit-1', i));
        await store.rejections.add(rows);
        const kept = await store.rejections.list('kit-1', 1000);
        expect(kept.length).toBe(100);
        expect(kept[0]).toEqual(rejection('kit-1', 104));
        expect(kept[99]).toEqual(rejection('kit-1', 5));
        await store.rejections.add([{ ...rejection('kit-3', 1), sample: 'x'.repeat(600) }]);
        expect((await store.rejections.list('kit-3'))[0]?.sample).toBe('x'.repeat(512));
      });
    });

    describe('several processes on one database', () => {
      it('opens at once on a fresh database', async () => {
        const fresh = await makeBackend();
        try {
          const stores = await Promise.all([fresh.open(), fresh.open(), fresh.open()]);
          opened.push(...stores);
          await Promise.all(stores.map((s, i) => s.devices.create({ id: `kit-${i}`, kind: 'native' })));
          expect((await stores[0]!.devices.list()).map((d) => d.id)).toEqual(['kit-0', 'kit-1', 'kit-2']);
          await Promise.all(stores.splice(0).map((s) => s.close()));
        } finally {
          await fresh.dispose();
        }
      });

      it('sees writes from the other store', async () => {
        const other = await open();
        const kit = await store.devices.create({ id: 'sck-a', kind: 'sck' });
        const car = await other.devices.create({ id: 'car-1', kind: 'vehicle' });
        await other.touchMany([{ id: 'sck-a', at: later(1) }]);
        await store.touchMany([{ id: 'car-1', at: later(2) }]);
        await Promise.all([
          store.rejections.add([rejection('car-1', 1)]),
          other.rejections.add([rejection('car-1', 2)]),
        ]);
        expect(await other.devices.findBySckToken(kit.token!)).toMatchObject({
          id: 'sck-a',
          lastSeenAt: later(1),
        });
        expect(await store.devices.verifySecret('car-1', car.secret!)).toMatchObject({
          lastSeenAt: later(2),
        });
        expect((await other.rejections.list('car-1')).length).toBe(2);
        await expect(other.devices.create({ id: 'sck-a', kind: 'native' })).rejects.toBeInstanceOf(
          StoreConflictError,
        );
      });

      it('keeps everything across close and reopen', async () => {
        const kit = await store.devices.create({ id: 'sck-a', kind: 'sck' });
        const dev = await store.devices.create({ id: 'kit-1', kind: 'native' });
        const op = await store.operators.create({ id: 'coop', name: 'Coop' });
        await store.close();
        const again = await open();
        await again.ping();
        expect(await again.devices.findBySckToken(kit.token!)).toEqual(kit.device);
        expect(await again.devices.verifySecret('kit-1', dev.secret!)).toEqual(dev.device);
        expect(await again.operators.verifyToken(op.token)).toEqual(op.operator);
      });
    });
  });
}

function rejection(deviceId: string, i: number): Rejection {
  return {
    deviceId,
    at: later(i),
    topic: `sensors/${deviceId}/readings`,
    reason: 'out_of_range',
    detail: `humidity ${100 + i} > 100`,
    sample: i % 2 ? null : `{"humidity":${100 + i}}`,
  };
}
