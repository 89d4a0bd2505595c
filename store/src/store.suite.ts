import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BookingConflictError,
  type NewCommand,
  type Rejection,
  type Store,
  StoreConflictError,
} from './index.ts';

/** One backend under test: `open` may be called several times and opens the same database each time. */
export interface Backend {
  open(): Promise<Store>;
  dispose(): Promise<void>;
}

const T0 = new Date('2026-11-22T10:15:00.000Z');
const later = (s: number) => new Date(T0.getTime() + s * 1000);

/**
 * The store's behaviour, written once and run against every backend (conventions: backends). `makeBackend` gives a
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
          publicTrack: false,
          createdAt: expect.any(Date),
          lastSeenAt: null,
          firmware: null,
          disabled: false,
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

    describe('revocation', () => {
      it('disables a device, rotates its secret or token: the old one is refused at once', async () => {
        const { secret } = await store.devices.create({ id: 'kit-r', kind: 'native' });
        const tag = await store.devices.loginTag('kit-r');
        expect(tag).toBeTruthy();
        expect((await store.devices.setDisabled('kit-r', true))?.disabled).toBe(true);
        expect(await store.devices.verifySecret('kit-r', secret!)).toBeUndefined();
        expect(await store.devices.loginTag('kit-r')).toBeUndefined();
        await store.devices.setDisabled('kit-r', false);
        const rotated = await store.devices.rotateCredentials('kit-r');
        expect(rotated?.secret).toMatch(/^[A-Za-z0-9]{32}$/);
        expect(await store.devices.verifySecret('kit-r', secret!)).toBeUndefined();
        expect((await store.devices.verifySecret('kit-r', rotated!.secret!))?.id).toBe('kit-r');
        expect(await store.devices.loginTag('kit-r')).not.toBe(tag);

        const { token } = await store.devices.create({ id: 'sck-r', kind: 'sck' });
        const newToken = (await store.devices.rotateCredentials('sck-r'))?.token;
        expect(newToken).toMatch(/^[a-z0-9]{6}$/);
        expect(await store.devices.findBySckToken(token!)).toBeUndefined();
        expect((await store.devices.findBySckToken(newToken!))?.id).toBe('sck-r');
        expect(await store.devices.rotateCredentials('nobody')).toBeUndefined();
      });

      it('refuses a device id that is a registered kit token (they would share a client id)', async () => {
        const { token } = await store.devices.create({ id: 'sck-t', kind: 'sck' });
        await expect(store.devices.create({ id: token!, kind: 'native' })).rejects.toBeInstanceOf(
          StoreConflictError,
        );
      });

      it('rotates and revokes operator tokens; a revoked bootstrap token is not restored by the same variable', async () => {
        const { token } = await store.operators.create({ id: 'coop', name: 'Coop' });
        const rotated = await store.operators.rotateToken('coop');
        expect(await store.operators.verifyToken(token)).toBeUndefined();
        expect((await store.operators.verifyToken(rotated!.token))?.id).toBe('coop');
        expect((await store.operators.revokeToken('coop'))?.revokedAt).toBeInstanceOf(Date);
        expect(await store.operators.verifyToken(rotated!.token)).toBeUndefined();

        await store.operators.ensureBootstrapAdmin('bootstrap-secret');
        await store.operators.revokeToken('admin');
        expect(await store.operators.ensureBootstrapAdmin('bootstrap-secret')).toBeUndefined();
        expect(await store.operators.verifyToken('bootstrap-secret')).toBeUndefined();
        // a new value is the recovery key
        expect((await store.operators.ensureBootstrapAdmin('new-bootstrap'))?.id).toBe('admin');
      });

      it('keeps an audit trail, newest first for admins and oldest first for the brokers', async () => {
        expect(await store.audit.latestId()).toBe(0);
        const a = await store.audit.add({ actor: 'coop', action: 'device.disable', target: 'kit-1' });
        const b = await store.audit.add({
          actor: 'cli',
          action: 'device.delete',
          target: 'kit-2',
          detail: 'x',
        });
        expect(await store.audit.latestId()).toBe(b.id);
        expect((await store.audit.list()).map((e) => e.target)).toEqual(['kit-2', 'kit-1']);
        expect((await store.audit.list({ target: 'kit-1' }))[0]).toEqual(a);
        expect((await store.audit.after(a.id)).map((e) => e.id)).toEqual([b.id]);
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
          revokedAt: null,
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
          revokedAt: null,
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

    describe('bookings', () => {
      const booking = (vehicleId: string, from: number, to: number, memberId = 'm-1') => ({
        operatorId: 'coop',
        vehicleId,
        memberId,
        start: later(from * 60),
        end: later(to * 60),
      });

      it('creates a booking with a bk_ id and gets it back', async () => {
        const b = await store.bookings.create(booking('car-1', 0, 60));
        expect(b).toEqual({
          id: expect.stringMatching(/^bk_[0-9A-Z]{26}$/),
          operatorId: 'coop',
          vehicleId: 'car-1',
          memberId: 'm-1',
          start: later(0),
          end: later(3600),
          createdAt: expect.any(Date),
          cancelledAt: null,
          returnedAt: null,
          homeOperatorId: 'coop',
          odometerStartKm: null,
          odometerEndKm: null,
          credentialHash: null,
        });
        expect(await store.bookings.get(b.id)).toEqual(b);
        expect(await store.bookings.get('bk_nothing')).toBeUndefined();
      });

      it('refuses an overlapping booking of the same car, and allows back to back and other cars', async () => {
        const first = await store.bookings.create(booking('car-1', 0, 60));
        for (const [from, to] of [
          [30, 90],
          [-30, 1],
          [10, 20],
          [-60, 120],
        ] as const) {
          const err = await store.bookings.create(booking('car-1', from, to)).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(BookingConflictError);
          expect(err).toBeInstanceOf(StoreConflictError);
          expect((err as BookingConflictError).conflictingId).toBe(first.id);
        }
        await store.bookings.create(booking('car-1', 60, 120));
        await store.bookings.create(booking('car-1', -60, 0));
        await store.bookings.create(booking('car-2', 0, 60));
        expect((await store.bookings.list({ vehicleId: 'car-1' })).length).toBe(3);
      });

      it('refuses a booking that does not end after it starts', async () => {
        await expect(store.bookings.create(booking('car-1', 10, 10))).rejects.toBeInstanceOf(RangeError);
      });

      it('frees the car when a booking is cancelled, and keeps the first cancellation time', async () => {
        const b = await store.bookings.create(booking('car-1', 0, 60));
        const cancelled = await store.bookings.cancel(b.id, later(5));
        expect(cancelled).toEqual({ ...b, cancelledAt: later(5) });
        expect(await store.bookings.cancel(b.id, later(9))).toEqual(cancelled);
        expect(await store.bookings.cancel('bk_nothing')).toBeUndefined();
        const again = await store.bookings.create(booking('car-1', 0, 60, 'm-2'));
        expect(again.memberId).toBe('m-2');
      });

      // Concurrent within one store: real parallel transactions on PostgreSQL's pool; one connection and
      // its lock on SQLite (sqlite.test.ts races separate processes, the way SQLite is shared).
      it('lets exactly one of 50 concurrent overlapping requests through', async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 50 }, (_, i) =>
            store.bookings.create(booking('car-1', i % 7, 60 + i, `m-${i}`)),
          ),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r) => r.status === 'rejected');
        expect(won.length).toBe(1);
        expect(lost.every((r) => r.reason instanceof BookingConflictError)).toBe(true);
        expect((await store.bookings.list({ vehicleId: 'car-1' })).length).toBe(1);
      });

      it('lists by operator, car, member, time and activity, latest start first', async () => {
        const a = await store.bookings.create(booking('car-1', 0, 60, 'ana'));
        const b = await store.bookings.create(booking('car-1', 120, 180, 'bob'));
        const c = await store.bookings.create(booking('car-2', 30, 90, 'ana'));
        const d = await store.bookings.create({ ...booking('car-3', 0, 60), operatorId: 'other' });
        const x = await store.bookings.create(booking('car-2', 100, 110));
        await store.bookings.cancel(x.id);
        const ids = (list: { id: string }[]) => list.map((r) => r.id);
        expect(ids(await store.bookings.list({ operatorId: 'coop' }))).toEqual([b.id, c.id, a.id]);
        expect(ids(await store.bookings.list({ operatorId: 'coop', includeCancelled: true }))).toEqual([
          b.id,
          x.id,
          c.id,
          a.id,
        ]);
        expect(ids(await store.bookings.list({ memberId: 'ana' }))).toEqual([c.id, a.id]);
        expect(ids(await store.bookings.list({ activeAt: later(45 * 60) }))).toEqual([c.id, d.id, a.id]);
        expect(ids(await store.bookings.list({ activeAt: later(60 * 60) }))).toEqual([c.id]);
        expect(ids(await store.bookings.list({ from: later(60 * 60), to: later(121 * 60) }))).toEqual([
          b.id,
          c.id,
        ]);
        expect(ids(await store.bookings.list({ operatorId: 'coop', limit: 2, offset: 1 }))).toEqual([
          c.id,
          a.id,
        ]);
        expect(
          ids(await store.bookings.list({ endedFrom: later(60 * 60), endedTo: later(100 * 60) })),
        ).toEqual([c.id, d.id, a.id]);
      });

      it('returns a running booking early, once, and only while it runs', async () => {
        const b = await store.bookings.create(booking('car-1', 0, 60));
        expect(await store.bookings.returnEarly(b.id, later(-60))).toBeUndefined();
        const r = await store.bookings.returnEarly(b.id, later(20 * 60));
        expect(r).toMatchObject({ end: later(20 * 60), returnedAt: later(20 * 60) });
        expect(await store.bookings.returnEarly(b.id, later(30 * 60))).toBeUndefined();
        // The car is free from the return on.
        await store.bookings.create(booking('car-1', 20, 40, 'm-2'));
      });

      it('gives each car its latest started and next booking start', async () => {
        await store.bookings.create(booking('car-1', 0, 60));
        await store.bookings.create(booking('car-1', 120, 180));
        const x = await store.bookings.create(booking('car-2', 10, 20));
        await store.bookings.cancel(x.id);
        await store.bookings.create(booking('car-2', 200, 220));
        const latest = await store.bookings.latestStarts(later(150 * 60));
        expect([...latest.entries()]).toEqual([['car-1', later(120 * 60)]]);
        const next = await store.bookings.nextStarts(later(0), later(300 * 60));
        expect(next.get('car-1')).toEqual(later(120 * 60));
        expect(next.get('car-2')).toEqual(later(200 * 60));
      });
    });

    describe('roaming', () => {
      it('keeps the home operator of a visiting member on the booking and its commands, visible to both', async () => {
        const b = await store.bookings.create({
          operatorId: 'coop-b',
          homeOperatorId: 'coop-a',
          vehicleId: 'car-b1',
          memberId: 'm-a',
          start: later(0),
          end: later(3600),
        });
        const own = await store.bookings.create({
          operatorId: 'coop-b',
          vehicleId: 'car-b2',
          memberId: 'm-b',
          start: later(0),
          end: later(3600),
        });
        expect(b.homeOperatorId).toBe('coop-a');
        expect(own.homeOperatorId).toBe('coop-b');
        const ids = async (visibleTo: string) =>
          (await store.bookings.list({ visibleTo })).map((x) => x.id).sort();
        expect(await ids('coop-a')).toEqual([b.id]);
        expect(await ids('coop-b')).toEqual([b.id, own.id].sort());
        expect(await ids('coop-c')).toEqual([]);
        await store.bookings.setOdometerStart(b.id, 100.5);
        await store.bookings.setOdometerStart(b.id, 999);
        await store.bookings.setOdometerEnd(b.id, 142.25);
        expect(await store.bookings.get(b.id)).toMatchObject({
          odometerStartKm: 100.5,
          odometerEndKm: 142.25,
        });
        const { command } = await store.commands.create({
          vehicleId: 'car-b1',
          operatorId: 'coop-b',
          requestedBy: 'coop-a',
          bookingId: b.id,
          homeOperatorId: 'coop-a',
          action: 'unlock',
          issuedAt: later(0),
          expiresAt: later(30),
          idempotencyKey: 'k',
          requestHash: 'h',
        });
        expect((await store.commands.list({ visibleTo: 'coop-a' })).map((c) => c.id)).toEqual([command.id]);
        expect((await store.commands.list({ visibleTo: 'coop-b' })).map((c) => c.id)).toEqual([command.id]);
        expect(await store.commands.list({ visibleTo: 'coop-c' })).toEqual([]);
        expect((await store.commands.get(command.id))?.homeOperatorId).toBe('coop-a');
      });

      it("keeps each operator's policy, nobody by default", async () => {
        expect(await store.roaming.accepts('coop-b')).toEqual([]);
        await store.roaming.setAccepts('coop-b', ['coop-c', 'coop-a', 'coop-a']);
        expect(await store.roaming.accepts('coop-b')).toEqual(['coop-a', 'coop-c']);
        await store.roaming.setAccepts('coop-b', '*');
        expect(await store.roaming.accepts('coop-b')).toBe('*');
      });
    });

    describe('offline events', () => {
      it('stores each (car, seq) once, newest first', async () => {
        const ev = (seq: number, at: number) => ({
          vehicleId: 'car-1',
          seq,
          at: later(at),
          event: 'refused' as const,
          bookingId: null,
          reason: 'unknown_credential',
          receivedAt: later(100),
        });
        expect(await store.offlineEvents.add([ev(1, 1), ev(2, 2)])).toBe(2);
        expect(await store.offlineEvents.add([ev(2, 2), ev(3, 3)])).toBe(1);
        expect((await store.offlineEvents.list({ vehicleId: 'car-1' })).map((e) => e.seq)).toEqual([3, 2, 1]);
        expect((await store.offlineEvents.list({ vehicleId: 'car-1' }))[0]).toEqual(ev(3, 3));
        expect(await store.offlineEvents.list({ vehicleId: 'car-2' })).toEqual([]);
      });
    });

    describe('fleet registry', () => {
      it('upserts stations, vehicle types, placements and GBFS systems', async () => {
        const st = {
          id: 'st-1',
          operatorId: 'coop',
          name: 'Gare',
          lat: 48.1,
          lon: -1.67,
          address: null,
          parkingType: 'underground_parking',
          capacity: 4,
          charging: true,
        };
        expect(await store.fleet.putStation(st)).toMatchObject(st);
        expect(await store.fleet.putStation({ ...st, name: 'Gare Sud' })).toMatchObject({ name: 'Gare Sud' });
        expect((await store.fleet.listStations({ operatorId: 'coop' })).map((x) => x.name)).toEqual([
          'Gare Sud',
        ]);
        expect(await store.fleet.listStations({ operatorId: 'other' })).toEqual([]);
        const vt = {
          operatorId: 'coop',
          id: 'zoe',
          propulsion: 'electric',
          make: 'Renault',
          model: 'Zoe',
          maxRangeM: 300_000,
          gCo2Km: 0,
          riderCapacity: 5,
        };
        expect(await store.fleet.putVehicleType(vt)).toMatchObject(vt);
        await store.fleet.placeVehicle({ vehicleId: 'car-1', vehicleTypeId: 'zoe', stationId: 'st-1' });
        await store.fleet.placeVehicle({ vehicleId: 'car-1', vehicleTypeId: 'zoe', stationId: null });
        expect(await store.fleet.listPlacements()).toMatchObject([{ vehicleId: 'car-1', stationId: null }]);
        await store.fleet.putSystem({ operatorId: 'coop', info: { name: 'Coop' }, pricingPlans: null });
        expect(await store.fleet.getSystem('coop')).toMatchObject({
          info: { name: 'Coop' },
          pricingPlans: null,
        });
        const k = await store.fleet.idKey();
        expect(k.length).toBe(32);
        expect(await store.fleet.idKey()).toEqual(k);
      });
    });

    describe('commands', () => {
      const command = (over: Partial<NewCommand> = {}): NewCommand => ({
        vehicleId: 'car-1',
        operatorId: 'coop',
        requestedBy: 'coop',
        memberId: 'm-1',
        bookingId: 'bk_1',
        action: 'unlock',
        issuedAt: later(0),
        expiresAt: later(30),
        idempotencyKey: 'key-1',
        requestHash: 'hash-1',
        ...over,
      });

      it('creates a command in pending with a cmd_ id and its first history entry', async () => {
        const { command: c, created } = await store.commands.create(command());
        expect(created).toBe(true);
        expect(c).toEqual({
          id: expect.stringMatching(/^cmd_[0-9A-Z]{26}$/),
          vehicleId: 'car-1',
          operatorId: 'coop',
          requestedBy: 'coop',
          memberId: 'm-1',
          bookingId: 'bk_1',
          action: 'unlock',
          state: 'pending',
          reason: null,
          issuedAt: later(0),
          expiresAt: later(30),
          updatedAt: later(0),
          idempotencyKey: 'key-1',
          requestHash: 'hash-1',
          homeOperatorId: 'coop',
          history: [{ state: 'pending', at: later(0), reason: null }],
        });
        expect(await store.commands.get(c.id)).toEqual(c);
        expect(await store.commands.findByIdempotencyKey('coop', 'key-1')).toEqual(c);
        expect(await store.commands.findByIdempotencyKey('other', 'key-1')).toBeUndefined();
        expect(await store.commands.get('cmd_nothing000')).toBeUndefined();
      });

      it('returns the first command for a reused idempotency key, even when requests race', async () => {
        const results = await Promise.all(Array.from({ length: 20 }, () => store.commands.create(command())));
        expect(results.filter((r) => r.created).length).toBe(1);
        expect(new Set(results.map((r) => r.command.id)).size).toBe(1);
        expect((await store.commands.list()).length).toBe(1);
        const elsewhere = await store.commands.create(command({ requestedBy: 'admin' }));
        expect(elsewhere.created).toBe(true);
        expect(elsewhere.command.id).not.toBe(results[0]!.command.id);
      });

      it('cancels the open commands of cancelled, returned and ended bookings, not a lock asked after the end', async () => {
        const mk = (id: string, start: number, end: number) =>
          store.bookings.create({
            operatorId: 'coop',
            vehicleId: id,
            memberId: 'm',
            start: later(start),
            end: later(end),
          });
        const cancelled = await mk('car-a', 0, 3600);
        const ended = await mk('car-b', 0, 600);
        const running = await mk('car-c', 0, 3600);
        const c1 = await store.commands.create(command({ bookingId: cancelled.id, idempotencyKey: 'k1' }));
        const c2 = await store.commands.create(command({ bookingId: ended.id, idempotencyKey: 'k2' }));
        const c3 = await store.commands.create(command({ bookingId: running.id, idempotencyKey: 'k3' }));
        const late = await store.commands.create(
          command({ bookingId: ended.id, action: 'lock', issuedAt: later(700), idempotencyKey: 'k4' }),
        );
        await store.bookings.cancel(cancelled.id, later(100));
        const moved = await store.commands.cancelForEndedBookings(later(900));
        const byId = new Map(moved.map((c) => [c.id, c]));
        expect(byId.get(c1.command.id)).toMatchObject({ state: 'cancelled', reason: 'booking_cancelled' });
        expect(byId.get(c1.command.id)?.history.at(-1)?.at).toEqual(later(100));
        expect(byId.get(c2.command.id)).toMatchObject({ state: 'cancelled', reason: 'booking_ended' });
        expect(byId.get(c2.command.id)?.history.at(-1)?.at).toEqual(later(600));
        expect(byId.has(c3.command.id)).toBe(false);
        expect(byId.has(late.command.id)).toBe(false);
        expect(await store.commands.cancelForEndedBookings(later(900))).toEqual([]);
      });

      it('moves state only from the expected states, recording every move', async () => {
        const { command: c } = await store.commands.create(command());
        const sent = await store.commands.transition(c.id, ['pending'], 'sent', later(1), null, {
          vehicleId: 'car-1',
        });
        expect(sent?.state).toBe('sent');
        expect(await store.commands.transition(c.id, ['pending'], 'failed', later(2), 'x')).toBeUndefined();
        const done = await store.commands.transition(c.id, ['pending', 'sent'], 'done', later(3));
        expect(
          await store.commands.transition(c.id, ['pending', 'sent'], 'expired', later(4)),
        ).toBeUndefined();
        expect(
          await store.commands.transition('cmd_nothing000', ['pending'], 'sent', later(4)),
        ).toBeUndefined();
        expect(await store.commands.transition(c.id, [], 'sent', later(4))).toBeUndefined();
        expect(
          await store.commands.transition(c.id, ['done'], 'rejected', later(4), 'x', { vehicleId: 'car-2' }),
        ).toBeUndefined();
        expect(done).toMatchObject({ state: 'done', reason: null, updatedAt: later(3) });
        expect(done?.history).toEqual([
          { state: 'pending', at: later(0), reason: null },
          { state: 'sent', at: later(1), reason: null },
          { state: 'done', at: later(3), reason: null },
        ]);
        expect(await store.commands.get(c.id)).toEqual(done);
      });

      it('lets exactly one of three racing writers finish a command', async () => {
        for (let i = 0; i < 10; i++) {
          const { command: c } = await store.commands.create(command({ idempotencyKey: `race-${i}` }));
          const outcomes = await Promise.all([
            store.commands.transition(c.id, ['pending', 'sent'], 'done', later(2)),
            store.commands.transition(c.id, ['pending', 'sent'], 'rejected', later(2), 'ignition_on'),
            store.commands.transition(c.id, ['pending', 'sent'], 'expired', later(2), 'no_answer'),
          ]);
          expect(outcomes.filter(Boolean).length).toBe(1);
          expect((await store.commands.get(c.id))?.history.length).toBe(2);
        }
      });

      it('expires the commands still open at their expiresAt, once', async () => {
        const a = (await store.commands.create(command({ idempotencyKey: 'a', expiresAt: later(10) })))
          .command;
        const b = (await store.commands.create(command({ idempotencyKey: 'b', expiresAt: later(20) })))
          .command;
        const c = (await store.commands.create(command({ idempotencyKey: 'c', expiresAt: later(10) })))
          .command;
        const d = (await store.commands.create(command({ idempotencyKey: 'd', expiresAt: later(5) })))
          .command;
        await store.commands.transition(a.id, ['pending'], 'sent', later(1));
        await store.commands.transition(c.id, ['pending'], 'done', later(2));
        const expired = await store.commands.expireDue(later(15));
        expect(expired.map((x) => x.id)).toEqual([d.id, a.id]);
        expect(expired[1]).toMatchObject({ state: 'expired', reason: 'no_answer', updatedAt: later(10) });
        expect(expired[1]?.history.at(-1)).toEqual({ state: 'expired', at: later(10), reason: 'no_answer' });
        expect(await store.commands.expireDue(later(15))).toEqual([]);
        expect((await store.commands.get(b.id))?.state).toBe('pending');
        expect((await store.commands.get(c.id))?.state).toBe('done');
      });

      it('lists newest first by car, booking and operator, page by page', async () => {
        const made: string[] = [];
        for (let i = 0; i < 7; i++) {
          const { command: c } = await store.commands.create(
            command({
              idempotencyKey: `k-${i}`,
              vehicleId: i % 2 ? 'car-2' : 'car-1',
              bookingId: i < 4 ? 'bk_1' : 'bk_2',
              operatorId: i === 6 ? 'other' : 'coop',
            }),
          );
          made.push(c.id);
        }
        await store.commands.transition(made[0]!, ['pending'], 'sent', later(1));
        const ids = (list: { id: string }[]) => list.map((c) => c.id);
        expect(ids(await store.commands.list())).toEqual([...made].reverse());
        expect(ids(await store.commands.list({ vehicleId: 'car-1' }))).toEqual(
          [6, 4, 2, 0].map((i) => made[i]),
        );
        expect(ids(await store.commands.list({ bookingId: 'bk_2', operatorId: 'coop' }))).toEqual(
          [5, 4].map((i) => made[i]),
        );
        const page1 = await store.commands.list({ limit: 3 });
        const page2 = await store.commands.list({ limit: 3, before: page1.at(-1)!.id });
        const page3 = await store.commands.list({ limit: 3, before: page2.at(-1)!.id });
        expect([...ids(page1), ...ids(page2), ...ids(page3)]).toEqual([...made].reverse());
        expect(page3.at(-1)?.history.map((h) => h.state)).toEqual(['pending', 'sent']);
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
