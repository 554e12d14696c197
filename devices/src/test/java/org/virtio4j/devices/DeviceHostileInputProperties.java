package org.virtio4j.devices;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.statistics.Statistics;

import org.virtio4j.devices.blk.BlkDevice;
import org.virtio4j.devices.blk.BlkOptions;
import org.virtio4j.devices.blk.BlkParseError;
import org.virtio4j.devices.blk.BlkRequest;
import org.virtio4j.devices.blk.BlkRequestParser;
import org.virtio4j.devices.blk.RamBackend;
import org.virtio4j.devices.console.ConsoleBackend;
import org.virtio4j.devices.console.ConsoleDevice;
import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.devices.testing.GuardedMemory;
import org.virtio4j.devices.vsock.VsockHeaderLayout;
import org.virtio4j.devices.vsock.VsockPacket;
import org.virtio4j.devices.vsock.VsockPacketParser;
import org.virtio4j.devices.vsock.VsockParseError;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestMemoryException;
import org.virtio4j.virtio.DescriptorChain;
import org.virtio4j.virtio.QueueError;
import org.virtio4j.virtio.QueueException;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.VirtioConsole;
import org.virtio4j.virtio.VirtioFeatures;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Hostile guests against the devices (the property-based counterpart of vm-virtio's blk and vsock fuzz targets):
 * for arbitrary descriptor tables, indirect tables and headers, the blk device, the vsock parsers and the console
 * queues never throw, never write outside guest memory (guard bytes around every region), and a blk request that
 * parses always leaves a status of OK, IOERR or UNSUPP; and good blk requests interleaved with bad ones on one queue
 * still complete exactly as they would alone.
 */
class DeviceHostileInputProperties
{
    private static final long DISK = 64 * 1024;
    private static final Interrupt NO_INTERRUPT = new Interrupt()
    {
        @Override
        public void signalUsedBuffers(final int queue)
        {
        }

        @Override
        public void signalConfigChange()
        {
        }
    };

    @Provide
    Arbitrary<HostileWorld> worlds()
    {
        // Edge cases (zeros, -1, extremes) are worth a quarter of the tries; the rest is spread over the whole range.
        return Arbitraries.frequencyOf(List.of(Tuple.of(3, HostileWorld.worlds().withoutEdgeCases()), Tuple.of(1, HostileWorld.worlds())));
    }

    @Provide
    Arbitrary<Boolean> mostlyWritable()
    {
        return Arbitraries.frequencyOf(List.of(Tuple.of(4, Arbitraries.just(false)), Tuple.of(1, Arbitraries.just(true))));
    }

    @Provide
    Arbitrary<Long> blkFeatures()
    {
        return Arbitraries.frequencyOf(List.of(Tuple.of(3, Arbitraries.just(7)), Tuple.of(2, Arbitraries.integers().between(0, 7)))).map(bits ->
            ((bits & 1) != 0 ? VirtioFeatures.bit(VirtioBlk.F_FLUSH) : 0) |
            ((bits & 2) != 0 ? VirtioFeatures.bit(VirtioBlk.F_DISCARD) : 0) |
            ((bits & 4) != 0 ? VirtioFeatures.bit(VirtioBlk.F_WRITE_ZEROES) : 0));
    }

    @Provide
    Arbitrary<Integer> maxDataSizes()
    {
        return Arbitraries.frequencyOf(List.of(
            Tuple.of(4, Arbitraries.of(0, 1, 43, 44, 64, 512, 4096, 64 * 1024, Integer.MAX_VALUE, -1)),
            Tuple.of(1, Arbitraries.integers())));
    }

    @Provide
    Arbitrary<List<Integer>> heads()
    {
        return Arbitraries.frequencyOf(List.of(Tuple.of(60, Arbitraries.integers().between(0, HostileWorld.SIZE - 1)),
            Tuple.of(1, Arbitraries.integers().between(HostileWorld.SIZE, 0xffff)))).list().ofMinSize(1).ofMaxSize(HostileWorld.SIZE);
    }

    @Provide
    Arbitrary<byte[]> consoleInput()
    {
        return Arbitraries.bytes().array(byte[].class).ofMaxSize(64);
    }

    @Example
    void guardBytesCatchAWriteJustPastARegionButNotOneInside()
    {
        try (GuardedMemory guarded = HostileWorld.newMemory())
        {
            final GuestMemory memory = guarded.memory();
            assertEquals(3, memory.regionCount());
            memory.putU64(0x7ff8, -1L);
            memory.putU64(0xfff8, -1L);
            memory.putU64(0x2_0ff8, -1L);
            assertEquals(-1, guarded.damagedGuardByte(), "the last bytes of every region are not guards");
            final long pastRegion0 = GuardedMemory.GUARD + memory.region(0).size();
            guarded.host().set(ValueLayout.JAVA_BYTE, pastRegion0, (byte)0);
            assertEquals(pastRegion0, guarded.damagedGuardByte());
        }
    }

    private static void assertGuardsIntact(final GuardedMemory guarded, final Object input)
    {
        assertEquals(-1, guarded.damagedGuardByte(), () -> "a guard byte changed: a write outside guest memory, for " + input);
    }

    private static String typeName(final int type)
    {
        return switch (type)
        {
            case VirtioBlk.T_IN -> "IN";
            case VirtioBlk.T_OUT -> "OUT";
            case VirtioBlk.T_FLUSH -> "FLUSH";
            case VirtioBlk.T_GET_ID -> "GET_ID";
            case VirtioBlk.T_DISCARD -> "DISCARD";
            case VirtioBlk.T_WRITE_ZEROES -> "WRITE_ZEROES";
            default -> "other";
        };
    }

    // ---- (a) blk: BlkDevice.process on an arbitrary chain ------------------------------------------------------------

    @Property(tries = 200)
    void blkRequestsNeverThrowNorWriteOutsideMemoryAndLeaveAValidStatus(@ForAll("worlds") final HostileWorld world,
        @ForAll("blkFeatures") final long features, @ForAll("mostlyWritable") final boolean readOnly) throws DeviceException
    {
        try (GuardedMemory guarded = HostileWorld.newMemory(); RamBackend ram = new RamBackend(DISK))
        {
            final GuestMemory memory = guarded.memory();
            world.writeTo(memory, 0);
            final BlkDevice device = new BlkDevice(ram, new BlkOptions(readOnly, "hostile", 1, HostileWorld.SIZE, 8, 4096, 64, 4, 64, 4));
            device.activate(memory, new SplitQueue[] {new SplitQueue(HostileWorld.SIZE)}, features, NO_INTERRUPT);
            final DescriptorChain chain = new DescriptorChain().reset(memory, 0, HostileWorld.SIZE, world.head());
            final BlkRequest parsed = new BlkRequest();
            final BlkParseError parseError;
            final int used;
            try
            {
                parseError = new BlkRequestParser().parse(chain.copy(), parsed);
                used = device.process(memory, chain);
            }
            catch (final Throwable t)
            {
                throw new AssertionError("blk threw on " + world, t);
            }
            Statistics.label("blk").collect(parseError == null
                ? "parsed " + typeName(parsed.type()) + " " + memory.getU8(parsed.statusAddr())
                : "unparsed");
            Statistics.label("blk").coverage(coverage ->
            {
                coverage.checkQuery(values -> values.get(0).toString().startsWith("parsed")).percentage(p -> p >= 10);
                coverage.checkQuery(values -> values.get(0).toString().endsWith(" 0")).count(n -> n >= 1);
                coverage.checkQuery(values -> values.get(0).toString().startsWith("parsed OUT")).count(n -> n >= 1);
                coverage.checkQuery(values -> values.get(0).toString().matches("parsed (DISCARD|WRITE_ZEROES) .*")).count(n -> n >= 1);
            });
            if (parseError == null)
            {
                final int status = memory.getU8(parsed.statusAddr());
                assertTrue(status == VirtioBlk.S_OK || status == VirtioBlk.S_IOERR || status == VirtioBlk.S_UNSUPP,
                    () -> "status " + status + " for " + parsed);
                final boolean withData = parsed.type() == VirtioBlk.T_IN && used == parsed.totalDataLen() + 1 ||
                    parsed.type() == VirtioBlk.T_GET_ID && used == VirtioBlk.ID_BYTES + 1;
                assertTrue(used == 1 || status == VirtioBlk.S_OK && withData, () -> "used length " + used + " for " + parsed);
            }
            else
            {
                assertTrue(used == 0 || used == 1, () -> "used length " + used + " for an unparsed chain: " + parseError);
            }
            assertGuardsIntact(guarded, world);
        }
    }

    // ---- (a) vsock: both parsers on an arbitrary chain ---------------------------------------------------------------

    @Property(tries = 200)
    void vsockParsersNeverThrowAndKeepHeaderAndDataInsideOneRegion(@ForAll("worlds") final HostileWorld world,
        @ForAll("maxDataSizes") final int maxDataSize)
    {
        try (GuardedMemory guarded = HostileWorld.newMemory())
        {
            final GuestMemory memory = guarded.memory();
            world.writeTo(memory, 0);
            final DescriptorChain chain = new DescriptorChain().reset(memory, 0, HostileWorld.SIZE, world.head());
            final VsockPacketParser parser = new VsockPacketParser();
            final VsockPacket packet = new VsockPacket();
            final VsockParseError txError;
            try
            {
                txError = parser.fromTx(chain, maxDataSize, packet);
            }
            catch (final Throwable t)
            {
                throw new AssertionError("fromTx threw on " + world, t);
            }
            if (txError == null)
            {
                assertInOneRegion(memory, packet.headerAddr(), VsockHeaderLayout.SIZE);
                if (packet.hasData())
                {
                    assertInOneRegion(memory, packet.dataAddr(), packet.dataLen());
                    assertEquals(Integer.toUnsignedLong(packet.len()), packet.dataLen(), "TX data is exactly the header's len");
                    assertTrue(Integer.toUnsignedLong(packet.len()) <= Integer.toUnsignedLong(maxDataSize));
                }
                else
                {
                    assertEquals(0, packet.len(), "no data only for len 0");
                }
            }
            final VsockParseError rxError;
            try
            {
                rxError = parser.fromRx(chain, maxDataSize, packet);
            }
            catch (final Throwable t)
            {
                throw new AssertionError("fromRx threw on " + world, t);
            }
            Statistics.label("vsock").collect((txError == null ? "tx ok" : "tx error") + ", " + (rxError == null ? "rx ok" : "rx error"));
            Statistics.label("vsock").coverage(coverage ->
            {
                coverage.checkQuery(values -> values.get(0).toString().contains("tx ok")).count(n -> n >= 2);
                coverage.checkQuery(values -> values.get(0).toString().contains("rx ok")).count(n -> n >= 2);
            });
            if (rxError == null)
            {
                assertInOneRegion(memory, packet.headerAddr(), VsockHeaderLayout.SIZE);
                assertEquals(0, packet.len(), "an RX header starts zeroed");
                assertEquals(0, packet.srcCid());
                if (packet.hasData())
                {
                    assertTrue(packet.dataLen() > 0);
                    assertInOneRegion(memory, packet.dataAddr(), packet.dataLen());
                }
            }
            assertGuardsIntact(guarded, world);
        }
    }

    private static void assertInOneRegion(final GuestMemory memory, final long address, final long length)
    {
        try
        {
            memory.regionHolding(address, length);
        }
        catch (final GuestMemoryException e)
        {
            fail("a parsed range is not inside one region: " + e.getMessage());
        }
    }

    // ---- (a) console: both queues with arbitrary chains --------------------------------------------------------------

    /** Captures output; never has input of its own. */
    private static final class CapturingBackend implements ConsoleBackend
    {
        private final ByteArrayOutputStream output = new ByteArrayOutputStream();

        @Override
        public int read(final byte[] buffer, final int offset, final int length)
        {
            return 0;
        }

        @Override
        public void write(final byte[] buffer, final int offset, final int length)
        {
            output.write(buffer, offset, length);
        }

        @Override
        public void close()
        {
        }
    }

    @Property(tries = 200)
    void consoleQueuesNeverThrowNorWriteOutsideMemory(@ForAll("worlds") final HostileWorld world, @ForAll("heads") final List<Integer> txHeads,
        @ForAll("heads") final List<Integer> rxHeads, @ForAll("consoleInput") final byte[] input) throws DeviceException
    {
        try (GuardedMemory guarded = HostileWorld.newMemory())
        {
            final GuestMemory memory = guarded.memory();
            final DriverQueue rx = new DriverQueue(memory, 0, HostileWorld.SIZE);
            final DriverQueue tx = new DriverQueue(memory, 0x400, HostileWorld.SIZE);
            world.writeTo(memory, 0);
            world.writeTable(memory, 0x400);
            final SplitQueue[] queues = {rx.configure(new SplitQueue(HostileWorld.SIZE)), tx.configure(new SplitQueue(HostileWorld.SIZE))};
            final CapturingBackend backend = new CapturingBackend();
            final ConsoleDevice device = new ConsoleDevice(backend, 64, HostileWorld.SIZE, 80, 25);
            device.activate(memory, queues, 0, NO_INTERRUPT);

            stage(tx, txHeads);
            final boolean badTxHead = txHeads.stream().anyMatch(head -> head >= HostileWorld.SIZE);
            final int sent = notifyQueue(device, VirtioConsole.TRANSMITQ, world);
            if (sent >= 0)
            {
                assertEquals(txHeads.size(), sent, "every transmit chain is returned");
                assertEquals(txHeads.size(), queues[VirtioConsole.TRANSMITQ].nextUsed());
            }
            else
            {
                assertTrue(badTxHead, "only a head outside the table stops the transmit queue");
            }
            assertEquals(backend.output.size(), device.bytesFromGuest(), "bytes counted are bytes sent");

            assertTrue(device.enqueueInput(input));
            stage(rx, rxHeads);
            final int received = notifyQueue(device, VirtioConsole.RECEIVEQ, world);
            Statistics.label("console").collect(sent > 0 && device.bytesFromGuest() > 0 ? "bytes sent" : "nothing sent",
                received > 0 && device.bytesToGuest() > 0 ? "bytes received" : "nothing received");
            Statistics.label("console").coverage(coverage ->
            {
                coverage.checkQuery(values -> values.get(0).equals("bytes sent")).count(n -> n >= 5);
                coverage.checkQuery(values -> values.get(1).equals("bytes received")).count(n -> n >= 5);
            });
            assertTrue(received <= rxHeads.size());
            if (input.length == 0)
            {
                assertEquals(0, received, "no receive chain taken without input");
            }
            assertEquals(input.length, device.bytesToGuest() + device.bufferedInput(), "no input byte lost or invented");
            assertGuardsIntact(guarded, world);
        }
    }

    private static void stage(final DriverQueue queue, final List<Integer> heads)
    {
        for (int i = 0; i < heads.size(); i++)
        {
            queue.stageAvailable(i, heads.get(i));
        }
        queue.publish(heads.size());
    }

    /** Notifies a queue; returns the chains completed, or -1 if the device asked for a reset because of a bad head. */
    private static int notifyQueue(final ConsoleDevice device, final int queue, final HostileWorld world)
    {
        try
        {
            return device.queueNotify(queue);
        }
        catch (final DeviceException e)
        {
            if (e.getCause() instanceof QueueException q && q.error() == QueueError.INVALID_DESCRIPTOR_INDEX)
            {
                return -1;
            }
            throw new AssertionError("console queue " + queue + " needs a reset for no good reason on " + world, e);
        }
        catch (final Throwable t)
        {
            throw new AssertionError("console queue " + queue + " threw on " + world, t);
        }
    }

    // ---- (b) blk: good requests interleaved with bad ones on one queue -----------------------------------------------

    /**
     * A chain that must fail whatever it targets.
     *
     * @param kind     which way it is bad.
     * @param target   which good request's sectors it aims at.
     * @param param    varies the badness.
     * @param position where it goes among the good requests.
     */
    record Bad(int kind, int target, int param, int position)
    {
        static final int KINDS = 14;
    }

    @Provide
    Arbitrary<List<Integer>> goodTargets()
    {
        return Arbitraries.integers().between(0, 60).set().ofMinSize(1).ofMaxSize(6).map(List::copyOf);
    }

    @Provide
    Arbitrary<List<Bad>> badChains()
    {
        return Combinators.combine(Arbitraries.integers().between(0, Bad.KINDS - 1), Arbitraries.integers().between(0, 5),
            Arbitraries.integers(), Arbitraries.integers().between(0, 12)).as(Bad::new).list().ofMaxSize(30);
    }

    @Property(tries = 200)
    void goodBlkRequestsCompleteCorrectlyAmongBadOnes(@ForAll("goodTargets") final List<Integer> targets,
        @ForAll("badChains") final List<Bad> bads) throws DeviceException
    {
        try (GuardedMemory guarded = HostileWorld.newMemory(); RamBackend ram = new RamBackend(DISK))
        {
            final BlkScript script = new BlkScript(guarded.memory(), targets, bads);
            final BlkDevice device = new BlkDevice(ram, BlkOptions.defaults());
            final SplitQueue queue = script.driver.configure(new SplitQueue(BlkOptions.DEFAULT_QUEUE_SIZE));
            device.activate(guarded.memory(), new SplitQueue[] {queue}, BlkScript.FEATURES, NO_INTERRUPT);
            script.publish();
            final int completed;
            try
            {
                completed = device.queueNotify(0);
            }
            catch (final Throwable t)
            {
                throw new AssertionError("blk queue threw on " + targets + " " + bads, t);
            }
            Statistics.label("blk queue").collect(bads.isEmpty() ? "good requests only" : "with bad chains");
            Statistics.label("blk queue").coverage(coverage -> coverage.check("with bad chains").percentage(p -> p >= 50));
            assertEquals(script.size(), completed, "every chain completed");
            assertEquals(script.size(), queue.nextUsed(), "every chain has a used element");
            script.check();
            final byte[] disk = new byte[(int)DISK];
            ram.segment().asByteBuffer().get(disk);
            assertArrayEquals(script.expectedDisk((int)DISK), disk, "the disk holds the good writes and nothing else");
            assertGuardsIntact(guarded, targets + " " + bads);
        }
    }

    /** Builds the interleaved requests in guest memory and checks what the device did with them. */
    private static final class BlkScript
    {
        static final long FEATURES = VirtioFeatures.bit(VirtioBlk.F_FLUSH) | VirtioFeatures.bit(VirtioBlk.F_DISCARD) |
            VirtioFeatures.bit(VirtioBlk.F_WRITE_ZEROES);
        private static final long SECTORS = DISK / 512;
        private static final long GOOD_AREA = 0x8000;
        private static final long BAD_AREA = 0x2000;
        private static final long HOSTILE_DATA = 0x4000;
        private static final long OUTSIDE = 0x3_0000;
        private static final int BLOCK = 1024;

        final DriverQueue driver;
        private final GuestMemory memory;
        private final List<Integer> targets;
        /** Per chain: the index of its good request (writes then reads), or -1 - the index of its bad chain. */
        private final List<Integer> order = new ArrayList<>();
        private final List<Bad> bads;

        BlkScript(final GuestMemory memory, final List<Integer> targets, final List<Bad> bads)
        {
            this.memory = memory;
            this.targets = targets;
            this.bads = bads;
            driver = new DriverQueue(memory, 0, BlkOptions.DEFAULT_QUEUE_SIZE);
            for (int i = 0; i < 2 * targets.size(); i++)
            {
                order.add(i);
            }
            for (int b = 0; b < bads.size(); b++)
            {
                order.add(Math.floorMod(bads.get(b).position(), order.size() + 1), -1 - b);
            }
            memory.fill(HOSTILE_DATA, 0x800, (byte)0xee);
        }

        int size()
        {
            return order.size();
        }

        private static byte[] pattern(final int target)
        {
            final byte[] bytes = new byte[BLOCK];
            for (int i = 0; i < BLOCK; i++)
            {
                bytes[i] = (byte)(i * 13 + target * 101 + 1);
            }
            return bytes;
        }

        private long sector(final int target)
        {
            return 2L * targets.get(target);
        }

        private static long goodBase(final int good)
        {
            return GOOD_AREA + 0x500L * good;
        }

        private static long badBase(final int bad)
        {
            return BAD_AREA + 0x80L * bad;
        }

        private void desc(final int index, final long addr, final int len, final boolean writable, final int next)
        {
            driver.writeDescriptor(index, addr, len, (writable ? 2 : 0) | (next >= 0 ? 1 : 0), Math.max(next, 0));
        }

        private void header(final long at, final int type, final long sector)
        {
            memory.putU32(at, type);
            memory.putU32(at + 4, 0);
            memory.putU64(at + 8, sector);
        }

        void publish()
        {
            for (int c = 0; c < order.size(); c++)
            {
                final int head = 4 * c;
                final int id = order.get(c);
                if (id >= 0)
                {
                    writeGood(head, id);
                }
                else
                {
                    writeBad(head, -1 - id, bads.get(-1 - id));
                }
                driver.stageAvailable(c, head);
            }
            driver.publish(order.size());
        }

        private void writeGood(final int head, final int good)
        {
            final boolean write = good < targets.size();
            final int target = write ? good : good - targets.size();
            final long base = goodBase(good);
            header(base, write ? VirtioBlk.T_OUT : VirtioBlk.T_IN, sector(target));
            memory.putU8(base + 0x10, 0xff);
            if (write)
            {
                memory.write(base + 0x100, pattern(target), 0, BLOCK);
            }
            desc(head, base, 16, false, head + 1);
            desc(head + 1, base + 0x100, BLOCK, !write, head + 2);
            desc(head + 2, base + 0x10, 1, true, -1);
        }

        private void writeBad(final int head, final int index, final Bad bad)
        {
            final long base = badBase(index);
            final long status = base + 0x20;
            final long segments = base + 0x40;
            final long sector = sector(bad.target() % targets.size());
            final int param = bad.param();
            memory.putU8(status, 0xff);
            header(base, VirtioBlk.T_OUT, sector);
            switch (bad.kind())
            {
                case 0 ->
                {
                    desc(head, base, 16, true, head + 1);
                    desc(head + 1, HOSTILE_DATA, BLOCK, false, head + 2);
                    desc(head + 2, status, 1, true, -1);
                }
                case 1 ->
                {
                    desc(head, base, 16, false, head + 1);
                    desc(head + 1, HOSTILE_DATA, BLOCK, false, head + 2);
                    desc(head + 2, status, 1, false, -1);
                }
                case 2 ->
                {
                    desc(head, base, 16, false, head + 1);
                    desc(head + 1, HOSTILE_DATA, BLOCK, false, head + 2);
                    desc(head + 2, status, 0, true, -1);
                }
                case 3 ->
                {
                    header(base, VirtioBlk.T_FLUSH, 1 + (param & 0xffff));
                    desc(head, base, 16, false, head + 1);
                    desc(head + 1, status, 1, true, -1);
                }
                case 4 ->
                {
                    header(base, VirtioBlk.T_IN, sector);
                    desc(head, base, 16, false, head + 1);
                    desc(head + 1, HOSTILE_DATA, BLOCK, false, head + 2);
                    desc(head + 2, status, 1, true, -1);
                }
                case 5 ->
                {
                    desc(head, base, 16, false, head + 1);
                    desc(head + 1, HOSTILE_DATA, BLOCK, false, head + 2);
                    desc(head + 2, OUTSIDE + (param & 0xfff), 1, true, -1);
                }
                case 6 ->
                {
                    final int length = 1 + Math.floorMod(param, 2 * BLOCK - 1);
                    desc(head, base, 16, false, head + 1);
                    desc(head + 1, HOSTILE_DATA, length % 512 == 0 ? length + 1 : length, false, head + 2);
                    desc(head + 2, status, 1, true, -1);
                }
                case 7 ->
                {
                    header(base, VirtioBlk.T_OUT, SECTORS - 1 + (param & 0xff));
                    desc(head, base, 16, false, head + 1);
                    desc(head + 1, HOSTILE_DATA, BLOCK, false, head + 2);
                    desc(head + 2, status, 1, true, -1);
                }
                case 8 ->
                {
                    desc(head, base, 16, false, head + 1);
                    desc(head + 1, HOSTILE_DATA, 512, false, head + 2);
                    desc(head + 2, OUTSIDE, 512, false, head + 3);
                    desc(head + 3, status, 1, true, -1);
                }
                case 9 ->
                {
                    final int[] unknown = {VirtioBlk.T_SCSI_CMD, 3, 5, VirtioBlk.T_GET_LIFETIME, VirtioBlk.T_SECURE_ERASE, 0x8000_0000};
                    header(base, unknown[Math.floorMod(param, unknown.length)], sector);
                    desc(head, base, 16, false, head + 1);
                    desc(head + 1, HOSTILE_DATA, BLOCK, false, head + 2);
                    desc(head + 2, status, 1, true, -1);
                }
                case 10 ->
                {
                    header(base, VirtioBlk.T_DISCARD, 0);
                    segment(segments, sector, 2, 1 + (param & 1));
                    desc(head, base, 16, false, head + 1);
                    desc(head + 1, segments, 16, false, head + 2);
                    desc(head + 2, status, 1, true, -1);
                }
                case 11 ->
                {
                    header(base, VirtioBlk.T_WRITE_ZEROES, 0);
                    segment(segments, sector, 2, 0);
                    segment(segments + 16, SECTORS + (param & 0xff), 1, 0);
                    desc(head, base, 16, false, head + 1);
                    desc(head + 1, segments, 32, false, head + 2);
                    desc(head + 2, status, 1, true, -1);
                }
                case 12 ->
                {
                    desc(head, base, 16, false, head + 1);
                    desc(head + 1, HOSTILE_DATA, BLOCK, false, head);
                }
                default ->
                {
                    header(base, VirtioBlk.T_WRITE_ZEROES, 0);
                    segment(segments, sector, 2, 0);
                    desc(head, base, 16, false, head + 1);
                    desc(head + 1, segments, 24, false, head + 2);
                    desc(head + 2, status, 1, true, -1);
                }
            }
        }

        private void segment(final long at, final long sector, final int sectors, final int flags)
        {
            memory.putU64(at, sector);
            memory.putU32(at + 8, sectors);
            memory.putU32(at + 12, flags);
        }

        void check()
        {
            for (int c = 0; c < order.size(); c++)
            {
                final int id = order.get(c);
                assertEquals(4 * c, driver.usedId(c), "used elements in chain order");
                final int usedLen = driver.usedLen(c);
                if (id >= 0)
                {
                    final boolean write = id < targets.size();
                    final long base = goodBase(id);
                    assertEquals(VirtioBlk.S_OK, memory.getU8(base + 0x10), "good request " + id);
                    assertEquals(write ? 1 : BLOCK + 1, usedLen, "good request " + id);
                    if (!write)
                    {
                        final byte[] read = new byte[BLOCK];
                        memory.read(base + 0x100, read, 0, BLOCK);
                        assertArrayEquals(pattern(id - targets.size()), read, "read back what the good write stored");
                    }
                }
                else
                {
                    final Bad bad = bads.get(-1 - id);
                    assertTrue(usedLen == 0 || usedLen == 1, "bad chain " + bad + " used length " + usedLen);
                    if (bad.kind() != 5)
                    {
                        assertNotEquals(VirtioBlk.S_OK, memory.getU8(badBase(-1 - id) + 0x20), "bad chain " + bad + " reported OK");
                    }
                }
            }
        }

        byte[] expectedDisk(final int size)
        {
            final byte[] disk = new byte[size];
            for (int t = 0; t < targets.size(); t++)
            {
                System.arraycopy(pattern(t), 0, disk, (int)(sector(t) * 512), BLOCK);
            }
            return disk;
        }

        @Override
        public String toString()
        {
            return "BlkScript" + Arrays.toString(order.toArray());
        }
    }
}
