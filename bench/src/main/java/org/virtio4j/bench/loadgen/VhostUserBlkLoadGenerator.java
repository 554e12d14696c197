package org.virtio4j.bench.loadgen;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.HdrHistogram.Recorder;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.memory.linux.Linux;
import org.virtio4j.transport.vhost.VhostUserFrontEnd;
import org.virtio4j.transport.vhost.VhostUserMessage;
import org.virtio4j.transport.vhost.VhostUserRequest;
import org.virtio4j.tuning.DemoGuest;
import org.virtio4j.tuning.FioJob;
import org.virtio4j.virtio.VirtioFeatures;
import org.virtio4j.virtio.driver.DriverQueue;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import static org.virtio4j.memory.GuestMemory.LE_U16;
import static org.virtio4j.memory.GuestMemory.LE_U32;
import static org.virtio4j.memory.GuestMemory.LE_U64;
import static org.virtio4j.transport.vhost.VhostUserFrontEnd.address;
import static org.virtio4j.transport.vhost.VhostUserFrontEnd.state;
import static org.virtio4j.transport.vhost.VhostUserFrontEnd.u64;

/**
 * Plays a VMM and its guest against any vhost-user-blk back-end (virtio4j serve, qemu-storage-daemon, ...): it
 * negotiates like QEMU, shares memfd guest memory with SET_MEM_TABLE, sets up the rings with eventfd kicks and
 * calls, and runs a fio-like closed-loop job (random reads or writes at a fixed iodepth) from one busy-polling
 * guest thread, reporting IOPS and HdrHistogram latency. The load is closed-loop (each completion submits the
 * next request), so there is no coordinated omission to correct: latency is measured per request from submit to
 * the used element being seen.
 *
 * <p>Run: {@code java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar
 * org.virtio4j.bench.loadgen.VhostUserBlkLoadGenerator --socket /tmp/blk0.sock --iodepth 32 --cpu 0}.
 * Core budget: 1 (the guest thread), plus the back-end's.
 */
@Command(name = "loadgen", mixinStandardHelpOptions = true, description = "A vhost-user-blk front-end load generator.")
public final class VhostUserBlkLoadGenerator implements Callable<Integer>
{
    private static final long RINGS = 0;
    private static final long QUEUE_STRIDE = 0x10_0000;

    @Option(names = "--socket", required = true, description = "The back-end's vhost-user socket.")
    Path socket;

    @Option(names = "--rw", defaultValue = "randread", description = "randread, randwrite or randrw (default: ${DEFAULT-VALUE}).")
    String rw;

    @Option(names = "--bs", defaultValue = "4096", description = "Block size (default: ${DEFAULT-VALUE}).")
    int blockSize;

    @Option(names = "--iodepth", defaultValue = "32", description = "Requests in flight per queue (default: ${DEFAULT-VALUE}).")
    int iodepth;

    @Option(names = "--queues", defaultValue = "1", description = "Queues (default: ${DEFAULT-VALUE}).")
    int queues;

    @Option(names = "--duration", defaultValue = "10", description = "Seconds (default: ${DEFAULT-VALUE}).")
    int duration;

    @Option(names = "--cpu", defaultValue = "-1", description = "Pin the guest thread's process to this CPU (default: not pinned).")
    int cpu;

    @Option(names = "--wait", description = "Interrupt-driven guest: sleep on the call eventfd whenever the used ring is empty (as Linux does).")
    boolean waitForCalls;

    @Option(names = "--verify", description = "Write a pattern per request slot, read it back and check it byte for byte (implies writes and reads).")
    boolean verify;

    @Option(names = "--warmup", defaultValue = "0", description = "Seconds to run before measuring (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--dirty-log", description = "Migrate-style: hand the back-end a dirty log (LOG_SHMFD) and turn VHOST_F_LOG_ALL on, " +
        "clearing the log every 100 ms as QEMU's log sync does.")
    boolean dirtyLog;

    @Option(names = "--inflight", description = "Ask for an inflight region (INFLIGHT_SHMFD) as QEMU does, so the back-end tracks every request in it.")
    boolean inflight;

    @Option(names = "--hgrm", description = "Write the latency distribution (.hgrm, microseconds) here.")
    Path hgrm;

    /**
     * @param args the command line.
     */
    public static void main(final String[] args)
    {
        System.exit(new CommandLine(new VhostUserBlkLoadGenerator()).execute(args));
    }

    @Override
    public Integer call() throws Exception
    {
        if (cpu >= 0)
        {
            final BitSet cpus = new BitSet();
            cpus.set(cpu);
            Linux.setAffinity(cpus);
        }
        final int queueSize = Math.min(32768, Integer.highestOneBit(Math.max(8, iodepth * 3) * 2 - 1));
        final long slots = DemoGuest.slotBytes(iodepth, blockSize) * queues;
        final long memoryBytes = (queues * QUEUE_STRIDE + slots + (2 << 20) + 0xffff) & ~0xffffL;
        try (MemoryBacking guestRam = MemoryBacking.memfd("loadgen-guest", memoryBytes);
            VhostUserFrontEnd vmm = new VhostUserFrontEnd(socket.toString()))
        {
            final GuestMemory memory = GuestMemory.of(guestRam.region(0));
            final long userBase = guestRam.segment().address();
            vmm.send(VhostUserRequest.GET_FEATURES, 0, new byte[0]);
            final long offered = vmm.u64Reply(VhostUserRequest.GET_FEATURES);
            final long wanted = VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) |
                VirtioFeatures.bit(VhostUserMessage.F_PROTOCOL_FEATURES) | VirtioFeatures.bit(12 /* VIRTIO_BLK_F_MQ */);
            if (!VirtioFeatures.has(offered, VhostUserMessage.F_PROTOCOL_FEATURES))
            {
                throw new IllegalStateException("the back-end does not offer VHOST_USER_F_PROTOCOL_FEATURES");
            }
            vmm.send(VhostUserRequest.GET_PROTOCOL_FEATURES, 0, new byte[0]);
            final long protocol = vmm.u64Reply(VhostUserRequest.GET_PROTOCOL_FEATURES) &
                (VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_MQ) | VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_REPLY_ACK) |
                    VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_CONFIG) |
                    (dirtyLog ? VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_LOG_SHMFD) : 0) |
                    (inflight ? VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_INFLIGHT_SHMFD) : 0));
            if (dirtyLog && !VirtioFeatures.has(protocol, VhostUserMessage.PROTOCOL_F_LOG_SHMFD) ||
                inflight && !VirtioFeatures.has(protocol, VhostUserMessage.PROTOCOL_F_INFLIGHT_SHMFD))
            {
                throw new IllegalStateException("the back-end does not offer " + (dirtyLog ? "LOG_SHMFD" : "INFLIGHT_SHMFD"));
            }
            vmm.send(VhostUserRequest.SET_PROTOCOL_FEATURES, 0, u64(protocol));
            vmm.send(VhostUserRequest.SET_OWNER, 0, new byte[0]);
            final long features = offered & (wanted | (dirtyLog ? VirtioFeatures.bit(VhostUserMessage.F_LOG_ALL) : 0));
            vmm.send(VhostUserRequest.SET_FEATURES, 0, u64(features));
            final long capacity = capacity(vmm, protocol);
            if (inflight)
            {
                final byte[] ask = new byte[VhostUserMessage.INFLIGHT_SIZE];
                MemorySegment.ofArray(ask).set(LE_U16, 16, (short)queues);
                MemorySegment.ofArray(ask).set(LE_U16, 18, (short)queueSize);
                vmm.send(VhostUserRequest.GET_INFLIGHT_FD, 0, ask);
                final MemorySegment region = vmm.reply(VhostUserRequest.GET_INFLIGHT_FD);
                final byte[] give = new byte[VhostUserMessage.INFLIGHT_SIZE];
                MemorySegment.copy(region, 0, MemorySegment.ofArray(give), 0, give.length);
                ack(vmm, protocol, VhostUserRequest.SET_INFLIGHT_FD, give, vmm.lastReplyFd());
            }
            final byte[] table = new byte[8 + VhostUserMessage.MEM_REGION_SIZE];
            final MemorySegment t = MemorySegment.ofArray(table);
            t.set(LE_U32, 0, 1);
            t.set(LE_U64, 8, 0);
            t.set(LE_U64, 16, memoryBytes);
            t.set(LE_U64, 24, userBase);
            t.set(LE_U64, 32, 0);
            ack(vmm, protocol, VhostUserRequest.SET_MEM_TABLE, table, guestRam.fd());
            final DriverQueue[] drivers = new DriverQueue[queues];
            final EventFd[] kicks = new EventFd[queues];
            final EventFd[] calls = new EventFd[queues];
            for (int q = 0; q < queues; q++)
            {
                drivers[q] = new DriverQueue(memory, RINGS + q * QUEUE_STRIDE, queueSize);
                kicks[q] = EventFd.create();
                calls[q] = EventFd.create();
                vmm.send(VhostUserRequest.SET_VRING_NUM, 0, state(q, queueSize));
                vmm.send(VhostUserRequest.SET_VRING_BASE, 0, state(q, 0));
                vmm.send(VhostUserRequest.SET_VRING_ADDR, 0, address(q, userBase + drivers[q].descTable(), userBase + drivers[q].usedRing(),
                    userBase + drivers[q].availRing()));
                vmm.send(VhostUserRequest.SET_VRING_CALL, 0, u64(q), calls[q].fd());
                vmm.send(VhostUserRequest.SET_VRING_KICK, 0, u64(q), kicks[q].fd());
                ack(vmm, protocol, VhostUserRequest.SET_VRING_ENABLE, state(q, 1));
            }
            final DirtyLogSync sync = dirtyLog ? DirtyLogSync.start(vmm, memoryBytes) : null;
            System.out.printf(Locale.ROOT, "loadgen: %s, %d MiB disk, %s bs=%d iodepth=%d queues=%d, %ds, guest cpu %s%s%s%n",
                socket, capacity >> 20, rw, blockSize, iodepth, queues, duration, cpu < 0 ? "any" : String.valueOf(cpu),
                dirtyLog ? ", dirty log on" : "", inflight ? ", inflight tracking on" : "");
            final Recorder recorder = new Recorder(3);
            final int readPercent = rw.equals("randread") ? 100 : rw.equals("randwrite") ? 0 : 70;
            final DemoGuest guest = new DemoGuest(memory, drivers, kicks, calls, iodepth, blockSize, readPercent, capacity,
                queues * QUEUE_STRIDE, recorder).waitForCalls(waitForCalls).verify(verify);
            new FioJob(blockSize, duration, hgrm).warmup(warmup).run(guest, recorder);
            guestFailed = guest.failed() > 0 || guest.verifyErrors() > 0;
            if (sync != null)
            {
                System.out.printf(Locale.ROOT, "loadgen: dirty log: %d pages found dirty in %d syncs%n", sync.stop(), sync.syncs());
                sync.close();
            }
            for (int q = 0; q < queues; q++)
            {
                vmm.send(VhostUserRequest.GET_VRING_BASE, 0, state(q, 0));
                vmm.reply(VhostUserRequest.GET_VRING_BASE);
                kicks[q].close();
                calls[q].close();
            }
        }
        return verify && guestFailed ? 1 : 0;
    }

    private boolean guestFailed;

    private static void ack(final VhostUserFrontEnd vmm, final long protocol, final int request, final byte[] payload, final int... fds)
        throws Exception
    {
        final boolean replyAck = VirtioFeatures.has(protocol, VhostUserMessage.PROTOCOL_F_REPLY_ACK);
        vmm.send(request, replyAck ? VhostUserMessage.NEED_REPLY : 0, payload, fds);
        if (replyAck && vmm.u64Reply(request) != 0)
        {
            throw new IllegalStateException("the back-end refused " + VhostUserRequest.name(request));
        }
    }

    private static long capacity(final VhostUserFrontEnd vmm, final long protocol) throws Exception
    {
        if (!VirtioFeatures.has(protocol, VhostUserMessage.PROTOCOL_F_CONFIG))
        {
            throw new IllegalStateException("the back-end does not offer the CONFIG protocol feature: disk size unknown");
        }
        final byte[] request = new byte[12 + 8];
        MemorySegment.ofArray(request).set(LE_U32, 4, 8);
        vmm.send(VhostUserRequest.GET_CONFIG, 0, request);
        return vmm.reply(VhostUserRequest.GET_CONFIG).get(LE_U64, 12) * 512;
    }
}
