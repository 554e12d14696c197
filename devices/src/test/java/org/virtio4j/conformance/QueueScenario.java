package org.virtio4j.conformance;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import org.virtio4j.memory.GuestAddress;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.AvailIter;
import org.virtio4j.virtio.ChainReader;
import org.virtio4j.virtio.ChainWriter;
import org.virtio4j.virtio.DescriptorChain;
import org.virtio4j.virtio.QueueException;
import org.virtio4j.virtio.QueueState;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.UsedRingLayout;

import static org.virtio4j.conformance.Vectors.hex;
import static org.virtio4j.conformance.Vectors.map;
import static org.virtio4j.conformance.Vectors.num;
import static org.virtio4j.conformance.Vectors.u64;

/**
 * Runs a {@code queue} vector: a new queue, the setup calls, the ops, then the final state, a dump of the used
 * ring and the memory changes — everything in the shape of the vector's {@code expect}.
 */
final class QueueScenario
{
    private static final int ELEMS_SHOWN_MAX = 32;
    private static final int FIRST_BYTES_MAX = 32;

    private final GuestMemory memory;
    private SplitQueue queue;
    private DescriptorChain lastPopped;

    private QueueScenario(final GuestMemory memory)
    {
        this.memory = memory;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> run(final Map<String, Object> input)
    {
        try (VectorMemory vectorMemory = new VectorMemory((Map<String, Object>)input.get("memory")))
        {
            final QueueScenario scenario = new QueueScenario(vectorMemory.memory);
            try
            {
                scenario.queue = new SplitQueue(num(input.get("max_size")));
            }
            catch (final QueueException e)
            {
                return map("new", Vectors.error(e));
            }
            final Map<String, Object> result = map("new", map("ok", true));
            final List<Object> setup = new ArrayList<>();
            for (final Object call : (List<Object>)input.get("setup"))
            {
                setup.add(scenario.apply((Map<String, Object>)call, "call"));
            }
            result.put("setup", setup);
            final long usedAddr = scenario.queue.usedRing();
            final int usedSize = scenario.queue.size();
            final List<Object> ops = new ArrayList<>();
            for (final Object op : (List<Object>)input.get("ops"))
            {
                final Map<String, Object> outcome = scenario.apply((Map<String, Object>)op, "op");
                outcome.put("next_avail", (long)scenario.queue.nextAvail());
                outcome.put("next_used", (long)scenario.queue.nextUsed());
                ops.add(outcome);
            }
            result.put("ops", ops);
            result.put("final", state(scenario.queue.state()));
            result.put("used_ring", scenario.dumpUsedRing(usedAddr, usedSize));
            result.put("mem_changes", vectorMemory.changes());
            return result;
        }
    }

    static Map<String, Object> state(final QueueState state)
    {
        return map(
            "max_size", (long)state.maxSize(),
            "next_avail", (long)state.nextAvail(),
            "next_used", (long)state.nextUsed(),
            "event_idx_enabled", state.eventIdxEnabled(),
            "size", (long)state.size(),
            "ready", state.ready(),
            "desc_table", hex(state.descTable()),
            "avail_ring", hex(state.availRing()),
            "used_ring", hex(state.usedRing()));
    }

    private Map<String, Object> apply(final Map<String, Object> call, final String nameKey)
    {
        final String name = (String)call.get(nameKey);
        final SplitQueue queue = this.queue;
        try
        {
            return switch (name)
            {
                case "try_set_size" -> tryCall(() -> queue.trySetSize(num(call.get("size"))), () -> (long)queue.size());
                case "set_size" ->
                {
                    queue.setSize(num(call.get("size")));
                    yield map("after", (long)queue.size());
                }
                case "try_set_desc_table_address" ->
                    tryCall(() -> queue.trySetDescTableAddress(u64(call.get("addr"))), () -> hex(queue.descTable()));
                case "try_set_avail_ring_address" ->
                    tryCall(() -> queue.trySetAvailRingAddress(u64(call.get("addr"))), () -> hex(queue.availRing()));
                case "try_set_used_ring_address" ->
                    tryCall(() -> queue.trySetUsedRingAddress(u64(call.get("addr"))), () -> hex(queue.usedRing()));
                case "set_desc_table_address" ->
                {
                    queue.setDescTableAddress(half(call, "low"), half(call, "high"));
                    yield map("after", hex(queue.descTable()));
                }
                case "set_avail_ring_address" ->
                {
                    queue.setAvailRingAddress(half(call, "low"), half(call, "high"));
                    yield map("after", hex(queue.availRing()));
                }
                case "set_used_ring_address" ->
                {
                    queue.setUsedRingAddress(half(call, "low"), half(call, "high"));
                    yield map("after", hex(queue.usedRing()));
                }
                case "set_event_idx" ->
                {
                    queue.setEventIdx((Boolean)call.get("enabled"));
                    yield map();
                }
                case "set_ready" ->
                {
                    queue.setReady((Boolean)call.get("ready"));
                    yield map();
                }
                case "set_next_avail" ->
                {
                    queue.setNextAvail(num(call.get("value")));
                    yield map();
                }
                case "set_next_used" ->
                {
                    queue.setNextUsed(num(call.get("value")));
                    yield map();
                }
                case "is_valid" -> map("value", queue.isValid(memory));
                case "avail_idx" -> map("value", (long)queue.availIdxAcquire(memory));
                case "used_idx" -> map("value", (long)queue.usedIdxAcquire(memory));
                case "pop_descriptor_chain" -> pop();
                case "iter" -> iter(num(call.get("max_chains")));
                case "add_used" ->
                {
                    queue.addUsed(memory, num(call.get("head")), num(call.get("len")));
                    yield map("ok", true);
                }
                case "enable_notification" -> map("value", queue.enableNotification(memory));
                case "disable_notification" ->
                {
                    queue.disableNotification(memory);
                    yield map("ok", true);
                }
                case "needs_notification" -> map("value", queue.needsNotification(memory));
                case "go_to_previous_position" ->
                {
                    queue.goToPreviousPosition();
                    yield map();
                }
                case "reset" ->
                {
                    queue.reset();
                    yield map();
                }
                case "reader" -> reader();
                case "writer" -> writer();
                default -> throw new IllegalArgumentException("unknown queue call " + name);
            };
        }
        catch (final QueueException e)
        {
            return Vectors.error(e);
        }
    }

    private static Integer half(final Map<String, Object> call, final String key)
    {
        final Object value = call.get(key);
        return value == null ? null : num(value);
    }

    private interface Setter
    {
        void set();
    }

    private interface Getter
    {
        Object get();
    }

    private static Map<String, Object> tryCall(final Setter setter, final Getter after)
    {
        try
        {
            setter.set();
            return map("ok", true, "after", after.get());
        }
        catch (final QueueException e)
        {
            final Map<String, Object> result = Vectors.error(e);
            result.put("after", after.get());
            return result;
        }
    }

    private Map<String, Object> pop()
    {
        final DescriptorChain chain = new DescriptorChain();
        if (!queue.popDescriptorChain(memory, chain))
        {
            lastPopped = null;
            return map("chain", null);
        }
        lastPopped = chain;
        return map("chain", describe(chain));
    }

    private Map<String, Object> iter(final int maxChains)
    {
        final AvailIter iter = queue.iter(memory);
        final List<Object> chains = new ArrayList<>();
        for (int i = 0; i < maxChains; i++)
        {
            final DescriptorChain chain = new DescriptorChain();
            if (!iter.next(chain))
            {
                break;
            }
            chains.add(describe(chain));
        }
        return map("chains", chains);
    }

    private static Map<String, Object> describe(final DescriptorChain chain)
    {
        final List<Object> descs = new ArrayList<>();
        final List<Object> writeOnly = new ArrayList<>();
        chain.rewind();
        while (chain.next())
        {
            descs.add(List.of(hex(chain.addr()), chain.lenUnsigned(), (long)chain.flags(), (long)chain.nextField()));
            writeOnly.add(chain.isWriteOnly());
        }
        return map("head_index", (long)chain.headIndex(), "descs", descs, "write_only", writeOnly);
    }

    private Map<String, Object> reader()
    {
        if (lastPopped == null)
        {
            return map("no_chain", true);
        }
        final ChainReader reader = new ChainReader().load(memory, lastPopped);
        final long available = reader.availableBytes();
        final byte[] first = new byte[(int)Math.min(available, FIRST_BYTES_MAX)];
        final int read = reader.read(first, 0, first.length);
        return map("available_bytes", available, "first_bytes", HexFormat.of().formatHex(first, 0, read), "bytes_read", reader.bytesRead());
    }

    private Map<String, Object> writer()
    {
        if (lastPopped == null)
        {
            return map("no_chain", true);
        }
        final ChainWriter writer = new ChainWriter().load(memory, lastPopped);
        return map("available_bytes", writer.availableBytes());
    }

    private Map<String, Object> dumpUsedRing(final long addr, final int size)
    {
        final int shown = Math.min(size, ELEMS_SHOWN_MAX);
        final Map<String, Object> dump = map("addr", hex(addr), "size", (long)size);
        dump.put("flags", readU16(addr, UsedRingLayout.FLAGS_OFFSET));
        dump.put("idx", readU16(addr, UsedRingLayout.IDX_OFFSET));
        dump.put("elems_shown", (long)shown);
        Object elems = null;
        if (!GuestAddress.addOverflows(addr, UsedRingLayout.RING_OFFSET))
        {
            final byte[] bytes = new byte[shown * UsedRingLayout.ELEMENT_SIZE];
            try
            {
                memory.read(addr + UsedRingLayout.RING_OFFSET, bytes, 0, bytes.length);
                elems = HexFormat.of().formatHex(bytes);
            }
            catch (final RuntimeException unreadable)
            {
                elems = null;
            }
        }
        dump.put("elems_hex", elems);
        dump.put("avail_event", readU16(addr, UsedRingLayout.availEventOffset(size)));
        return dump;
    }

    private Object readU16(final long base, final long offset)
    {
        if (GuestAddress.addOverflows(base, offset))
        {
            return null;
        }
        try
        {
            return (long)memory.getU16(base + offset);
        }
        catch (final RuntimeException unreadable)
        {
            return null;
        }
    }
}
