package org.virtio4j.conformance;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.virtio4j.devices.blk.BlkParseError;
import org.virtio4j.devices.blk.BlkRequest;
import org.virtio4j.devices.blk.BlkRequestParser;
import org.virtio4j.devices.vsock.VsockPacket;
import org.virtio4j.devices.vsock.VsockPacketParser;
import org.virtio4j.devices.vsock.VsockParseError;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.DescriptorChain;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.devices.vsock.VsockHeaderLayout;

import static org.virtio4j.conformance.Vectors.hex;
import static org.virtio4j.conformance.Vectors.map;
import static org.virtio4j.conformance.Vectors.num;
import static org.virtio4j.conformance.Vectors.u64;

/**
 * Runs {@code blk_parse} and {@code vsock} vectors: pop the one chain the vector's queue offers, then parse it.
 */
final class ParseScenario
{
    private ParseScenario()
    {
    }

    @SuppressWarnings("unchecked")
    private static DescriptorChain popChain(final GuestMemory memory, final Map<String, Object> input)
    {
        final Map<String, Object> spec = (Map<String, Object>)input.get("queue");
        final int size = num(spec.get("size"));
        final SplitQueue queue = new SplitQueue(size);
        queue.trySetDescTableAddress(u64(spec.get("desc_table")));
        queue.trySetAvailRingAddress(u64(spec.get("avail_ring")));
        queue.trySetUsedRingAddress(u64(spec.get("used_ring")));
        queue.setReady(true);
        final DescriptorChain chain = new DescriptorChain();
        if (!queue.popDescriptorChain(memory, chain))
        {
            throw new IllegalStateException("the vector's queue offers no chain");
        }
        return chain;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> blk(final Map<String, Object> input)
    {
        try (VectorMemory vectorMemory = new VectorMemory((Map<String, Object>)input.get("memory")))
        {
            final DescriptorChain chain = popChain(vectorMemory.memory, input);
            final BlkRequest request = new BlkRequest();
            final BlkParseError error = new BlkRequestParser().parse(chain, request);
            if (error != null)
            {
                return Vectors.error(blkVariant(error), request.memoryError());
            }
            final Map<String, Object> ok = map("request_type", blkTypeName(request.type()));
            if (blkTypeName(request.type()).equals("Unsupported"))
            {
                ok.put("unsupported_value", Integer.toUnsignedLong(request.type()));
            }
            ok.put("sector", hex(request.sector()));
            final List<Object> data = new ArrayList<>();
            for (int i = 0; i < request.dataCount(); i++)
            {
                data.add(List.of(hex(request.dataAddr(i)), Integer.toUnsignedLong(request.dataLen(i))));
            }
            ok.put("data", data);
            ok.put("status_addr", hex(request.statusAddr()));
            ok.put("total_data_len", hex(request.totalDataLen()));
            return map("ok", ok);
        }
    }

    private static String blkTypeName(final int type)
    {
        return switch (type)
        {
            case VirtioBlk.T_IN -> "In";
            case VirtioBlk.T_OUT -> "Out";
            case VirtioBlk.T_FLUSH -> "Flush";
            case VirtioBlk.T_GET_ID -> "GetDeviceID";
            case VirtioBlk.T_DISCARD -> "Discard";
            case VirtioBlk.T_WRITE_ZEROES -> "WriteZeroes";
            default -> "Unsupported";
        };
    }

    /** vm-virtio's {@code virtio_blk::request::Error} variant for each of our parse errors. */
    static String blkVariant(final BlkParseError error)
    {
        return switch (error)
        {
            case DESCRIPTOR_CHAIN_TOO_SHORT -> "DescriptorChainTooShort";
            case UNEXPECTED_WRITE_ONLY_DESCRIPTOR -> "UnexpectedWriteOnlyDescriptor";
            case UNEXPECTED_READ_ONLY_DESCRIPTOR -> "UnexpectedReadOnlyDescriptor";
            case DESCRIPTOR_LENGTH_TOO_SMALL -> "DescriptorLengthTooSmall";
            case INVALID_FLUSH_SECTOR -> "InvalidFlushSector";
            case GUEST_MEMORY -> "GuestMemory";
        };
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> vsock(final Map<String, Object> input)
    {
        try (VectorMemory vectorMemory = new VectorMemory((Map<String, Object>)input.get("memory")))
        {
            final DescriptorChain chain = popChain(vectorMemory.memory, input);
            final VsockPacket packet = new VsockPacket();
            final int maxDataSize = num(input.get("max_data_size"));
            final VsockPacketParser parser = new VsockPacketParser();
            final VsockParseError error = "tx".equals(input.get("direction"))
                ? parser.fromTx(chain, maxDataSize, packet)
                : parser.fromRx(chain, maxDataSize, packet);
            if (error == VsockParseError.INVALID_HEADER_LEN)
            {
                return map("err", "InvalidHeaderLen", "err_detail", map("value", Integer.toUnsignedLong(packet.len())));
            }
            if (error != null)
            {
                return Vectors.error(vsockVariant(error), packet.memoryError());
            }
            final Map<String, Object> header = map(
                "src_cid", hex(packet.srcCid()),
                "dst_cid", hex(packet.dstCid()),
                "src_port", Integer.toUnsignedLong(packet.srcPort()),
                "dst_port", Integer.toUnsignedLong(packet.dstPort()),
                "len", Integer.toUnsignedLong(packet.len()),
                "type_", (long)packet.type(),
                "op", (long)packet.op(),
                "flags", Integer.toUnsignedLong(packet.flags()),
                "buf_alloc", Integer.toUnsignedLong(packet.bufAlloc()),
                "fwd_cnt", Integer.toUnsignedLong(packet.fwdCnt()));
            return map("ok", map(
                "header", header,
                "header_gpa", hex(packet.headerAddr()),
                "header_len", (long)VsockHeaderLayout.SIZE,
                "data_len", packet.hasData() ? packet.dataLen() : null,
                "data_gpa", packet.hasData() ? hex(packet.dataAddr()) : null));
        }
    }

    /** vm-virtio's {@code virtio_vsock::packet::Error} variant for each of our parse errors. */
    static String vsockVariant(final VsockParseError error)
    {
        return switch (error)
        {
            case DESCRIPTOR_CHAIN_TOO_SHORT -> "DescriptorChainTooShort";
            case UNEXPECTED_WRITE_ONLY_DESCRIPTOR -> "UnexpectedWriteOnlyDescriptor";
            case UNEXPECTED_READ_ONLY_DESCRIPTOR -> "UnexpectedReadOnlyDescriptor";
            case DESCRIPTOR_LENGTH_TOO_SMALL -> "DescriptorLengthTooSmall";
            case DESCRIPTOR_LENGTH_TOO_LONG -> "DescriptorLengthTooLong";
            case INVALID_HEADER_LEN -> "InvalidHeaderLen";
            case FRAGMENTED_MEMORY -> "FragmentedMemory";
            case INVALID_MEMORY_ACCESS -> "InvalidMemoryAccess";
        };
    }
}
