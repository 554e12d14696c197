package org.virtio4j.virtio;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The values virtio-bindings (Linux uapi headers) and the virtio spec fix, and the layouts of the split ring
 * (behaviour notes sections 1.3, 2.1, 4.1, 5.1, 5.5 and 7; {@code desc/split.rs}'s size and offset tests).
 *
 * <p>Not ported: virtio-bindings' own tests (Debug and byte-wise PartialEq of {@code virtio_net_hdr_v1}; virtio4j
 * has no net header type), the packed descriptor and {@code PackedDescEvent} layouts (split rings only), and the
 * per-architecture bindgen layout asserts (Java has one layout).
 */
class ConstantsTest
{
    @Test
    void shouldNumberRingAndConfigFeatureBitsAsLinux()
    {
        assertEquals(27, VirtioFeatures.ANY_LAYOUT);
        assertEquals(28, VirtioFeatures.RING_INDIRECT_DESC);
        assertEquals(29, VirtioFeatures.RING_EVENT_IDX);
        assertEquals(32, VirtioFeatures.VERSION_1);
        assertEquals(33, VirtioFeatures.ACCESS_PLATFORM);
        assertEquals(34, VirtioFeatures.RING_PACKED);
        assertEquals(35, VirtioFeatures.IN_ORDER);
        assertEquals(36, VirtioFeatures.ORDER_PLATFORM);
        assertEquals(37, VirtioFeatures.SR_IOV);
        assertEquals(38, VirtioFeatures.NOTIFICATION_DATA);
        assertEquals(39, VirtioFeatures.NOTIF_CONFIG_DATA);
        assertEquals(40, VirtioFeatures.RING_RESET);
    }

    @Test
    void shouldTurnFeatureBitsIntoMasksAbove32()
    {
        assertEquals(0x1000_0000L, VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC));
        assertEquals(0x2000_0000L, VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX));
        assertEquals(0x1_0000_0000L, VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        assertEquals(0x8_0000_0000L, VirtioFeatures.bit(VirtioFeatures.IN_ORDER));
        assertEquals(Long.MIN_VALUE, VirtioFeatures.bit(63));

        final long features = VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX);
        assertTrue(VirtioFeatures.has(features, VirtioFeatures.VERSION_1));
        assertTrue(VirtioFeatures.has(features, VirtioFeatures.RING_EVENT_IDX));
        assertFalse(VirtioFeatures.has(features, VirtioFeatures.RING_INDIRECT_DESC));
        assertFalse(VirtioFeatures.has(features, 0));
    }

    @Test
    void shouldLayOutSplitDescriptorIn16Bytes()
    {
        assertEquals(16, DescriptorLayout.SIZE);
        assertEquals(0, DescriptorLayout.ADDR_OFFSET);
        assertEquals(8, DescriptorLayout.LEN_OFFSET);
        assertEquals(12, DescriptorLayout.FLAGS_OFFSET);
        assertEquals(14, DescriptorLayout.NEXT_OFFSET);
        assertEquals(16, DescriptorLayout.TABLE_ALIGNMENT);
        assertEquals(65535, DescriptorLayout.MAX_INDIRECT_ENTRIES);
    }

    @Test
    void shouldNumberDescriptorFlagsAsLinux()
    {
        assertEquals(1, DescriptorLayout.F_NEXT);
        assertEquals(2, DescriptorLayout.F_WRITE);
        assertEquals(4, DescriptorLayout.F_INDIRECT);
    }

    @Test
    void shouldLayOutAvailRing()
    {
        assertEquals(0, AvailRingLayout.FLAGS_OFFSET);
        assertEquals(2, AvailRingLayout.IDX_OFFSET);
        assertEquals(4, AvailRingLayout.RING_OFFSET);
        assertEquals(2, AvailRingLayout.ENTRY_SIZE);
        assertEquals(2, AvailRingLayout.ALIGNMENT);
        assertEquals(1, AvailRingLayout.F_NO_INTERRUPT);
        assertEquals(36, AvailRingLayout.usedEventOffset(16));
        assertEquals(38, AvailRingLayout.byteSize(16));
        assertEquals(6 + 2L * 32768, AvailRingLayout.byteSize(32768));
    }

    @Test
    void shouldLayOutUsedRingWith8ByteElements()
    {
        assertEquals(0, UsedRingLayout.FLAGS_OFFSET);
        assertEquals(2, UsedRingLayout.IDX_OFFSET);
        assertEquals(4, UsedRingLayout.RING_OFFSET);
        assertEquals(8, UsedRingLayout.ELEMENT_SIZE);
        assertEquals(4, UsedRingLayout.ELEMENT_LEN_OFFSET);
        assertEquals(4, UsedRingLayout.ALIGNMENT);
        assertEquals(1, UsedRingLayout.F_NO_NOTIFY);
        assertEquals(132, UsedRingLayout.availEventOffset(16));
        assertEquals(134, UsedRingLayout.byteSize(16));
        assertEquals(6 + 8L * 32768, UsedRingLayout.byteSize(32768));
    }

    @Test
    void shouldLayOutDriverQueueAsTableThenAvailThenAlignedUsed()
    {
        // 16 * 16 = 0x100 of descriptors, 38 bytes of avail ring to 0x126, used ring at 0x128 for 134 bytes.
        assertEquals(0x128 + 134, DriverQueue.layoutBytes(16));
        assertEquals(16 + 8 + 14, DriverQueue.layoutBytes(1));
    }

    @Test
    void shouldLimitSplitQueueTo32768Entries()
    {
        assertEquals(32768, SplitQueue.MAX_QUEUE_SIZE);
    }

    @Test
    void shouldUseMmioMagicVirtAndVersion2()
    {
        assertEquals(0x7472_6976, VirtioMmio.MAGIC);
        final byte[] bytes = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(VirtioMmio.MAGIC).array();
        assertEquals("virt", new String(bytes, StandardCharsets.US_ASCII));
        assertEquals(2, VirtioMmio.VERSION);
    }

    @Test
    void shouldPlaceMmioRegistersAtSpecOffsets()
    {
        assertEquals(0x000, VirtioMmio.MAGIC_VALUE);
        assertEquals(0x004, VirtioMmio.VERSION_REG);
        assertEquals(0x008, VirtioMmio.DEVICE_ID);
        assertEquals(0x00c, VirtioMmio.VENDOR_ID);
        assertEquals(0x010, VirtioMmio.DEVICE_FEATURES);
        assertEquals(0x014, VirtioMmio.DEVICE_FEATURES_SEL);
        assertEquals(0x020, VirtioMmio.DRIVER_FEATURES);
        assertEquals(0x024, VirtioMmio.DRIVER_FEATURES_SEL);
        assertEquals(0x028, VirtioMmio.GUEST_PAGE_SIZE);
        assertEquals(0x030, VirtioMmio.QUEUE_SEL);
        assertEquals(0x034, VirtioMmio.QUEUE_NUM_MAX);
        assertEquals(0x038, VirtioMmio.QUEUE_NUM);
        assertEquals(0x03c, VirtioMmio.QUEUE_ALIGN);
        assertEquals(0x040, VirtioMmio.QUEUE_PFN);
        assertEquals(0x044, VirtioMmio.QUEUE_READY);
        assertEquals(0x050, VirtioMmio.QUEUE_NOTIFY);
        assertEquals(0x060, VirtioMmio.INTERRUPT_STATUS);
        assertEquals(0x064, VirtioMmio.INTERRUPT_ACK);
        assertEquals(0x070, VirtioMmio.STATUS);
        assertEquals(0x080, VirtioMmio.QUEUE_DESC_LOW);
        assertEquals(0x084, VirtioMmio.QUEUE_DESC_HIGH);
        assertEquals(0x090, VirtioMmio.QUEUE_AVAIL_LOW);
        assertEquals(0x094, VirtioMmio.QUEUE_AVAIL_HIGH);
        assertEquals(0x0a0, VirtioMmio.QUEUE_USED_LOW);
        assertEquals(0x0a4, VirtioMmio.QUEUE_USED_HIGH);
        assertEquals(0x0ac, VirtioMmio.SHM_SEL);
        assertEquals(0x0b0, VirtioMmio.SHM_LEN_LOW);
        assertEquals(0x0b4, VirtioMmio.SHM_LEN_HIGH);
        assertEquals(0x0b8, VirtioMmio.SHM_BASE_LOW);
        assertEquals(0x0bc, VirtioMmio.SHM_BASE_HIGH);
        assertEquals(0x0c0, VirtioMmio.QUEUE_RESET);
        assertEquals(0x0fc, VirtioMmio.CONFIG_GENERATION);
        assertEquals(0x100, VirtioMmio.CONFIG);
        assertEquals(1, VirtioMmio.INT_VRING);
        assertEquals(2, VirtioMmio.INT_CONFIG);
    }

    @Test
    void shouldNumberDeviceStatusBits()
    {
        assertEquals(0, DeviceStatus.RESET);
        assertEquals(1, DeviceStatus.ACKNOWLEDGE);
        assertEquals(2, DeviceStatus.DRIVER);
        assertEquals(4, DeviceStatus.DRIVER_OK);
        assertEquals(8, DeviceStatus.FEATURES_OK);
        assertEquals(64, DeviceStatus.DEVICE_NEEDS_RESET);
        assertEquals(128, DeviceStatus.FAILED);
    }

    @Test
    void shouldNumberDeviceTypesAsVirtioIds()
    {
        assertEquals(1, DeviceType.NET);
        assertEquals(2, DeviceType.BLOCK);
        assertEquals(3, DeviceType.CONSOLE);
        assertEquals(4, DeviceType.RNG);
        assertEquals(5, DeviceType.BALLOON);
        assertEquals(8, DeviceType.SCSI);
        assertEquals(9, DeviceType.NINE_P);
        assertEquals(16, DeviceType.GPU);
        assertEquals(18, DeviceType.INPUT);
        assertEquals(19, DeviceType.VSOCK);
        assertEquals(20, DeviceType.CRYPTO);
        assertEquals(25, DeviceType.SOUND);
        assertEquals(26, DeviceType.FS);
    }

    @Test
    void shouldUseBlkSectorsRequestTypesAndStatusesOfBindings()
    {
        assertEquals(9, VirtioBlk.SECTOR_SHIFT);
        assertEquals(512, VirtioBlk.SECTOR_SIZE);
        assertEquals(20, VirtioBlk.ID_BYTES);
        assertEquals(0, VirtioBlk.T_IN);
        assertEquals(1, VirtioBlk.T_OUT);
        assertEquals(2, VirtioBlk.T_SCSI_CMD);
        assertEquals(4, VirtioBlk.T_FLUSH);
        assertEquals(8, VirtioBlk.T_GET_ID);
        assertEquals(10, VirtioBlk.T_GET_LIFETIME);
        assertEquals(11, VirtioBlk.T_DISCARD);
        assertEquals(13, VirtioBlk.T_WRITE_ZEROES);
        assertEquals(14, VirtioBlk.T_SECURE_ERASE);
        assertEquals(0, VirtioBlk.S_OK);
        assertEquals(1, VirtioBlk.S_IOERR);
        assertEquals(2, VirtioBlk.S_UNSUPP);
        assertEquals(16, VirtioBlk.HEADER_SIZE);
        assertEquals(16, VirtioBlk.SEGMENT_SIZE);
        assertEquals(1, VirtioBlk.WRITE_ZEROES_FLAG_UNMAP);
    }

    @Test
    void shouldNumberBlkFeatureBitsAsLinux()
    {
        assertEquals(1, VirtioBlk.F_SIZE_MAX);
        assertEquals(2, VirtioBlk.F_SEG_MAX);
        assertEquals(4, VirtioBlk.F_GEOMETRY);
        assertEquals(5, VirtioBlk.F_RO);
        assertEquals(6, VirtioBlk.F_BLK_SIZE);
        assertEquals(9, VirtioBlk.F_FLUSH);
        assertEquals(10, VirtioBlk.F_TOPOLOGY);
        assertEquals(11, VirtioBlk.F_CONFIG_WCE);
        assertEquals(12, VirtioBlk.F_MQ);
        assertEquals(13, VirtioBlk.F_DISCARD);
        assertEquals(14, VirtioBlk.F_WRITE_ZEROES);
        assertEquals(15, VirtioBlk.F_LIFETIME);
        assertEquals(16, VirtioBlk.F_SECURE_ERASE);
    }

    @Test
    void shouldUseVsockHeaderOf44BytesAndSpecOpsTypesAndFlags()
    {
        assertEquals(44, VirtioVsock.HEADER_SIZE);
        assertEquals(2, VirtioVsock.HOST_CID);
        assertEquals(0, VirtioVsock.F_STREAM);
        assertEquals(1, VirtioVsock.F_SEQPACKET);
        assertEquals(0, VirtioVsock.RXQ);
        assertEquals(1, VirtioVsock.TXQ);
        assertEquals(2, VirtioVsock.EVENTQ);
        assertEquals(1, VirtioVsock.TYPE_STREAM);
        assertEquals(2, VirtioVsock.TYPE_SEQPACKET);
        assertEquals(0, VirtioVsock.OP_INVALID);
        assertEquals(1, VirtioVsock.OP_REQUEST);
        assertEquals(2, VirtioVsock.OP_RESPONSE);
        assertEquals(3, VirtioVsock.OP_RST);
        assertEquals(4, VirtioVsock.OP_SHUTDOWN);
        assertEquals(5, VirtioVsock.OP_RW);
        assertEquals(6, VirtioVsock.OP_CREDIT_UPDATE);
        assertEquals(7, VirtioVsock.OP_CREDIT_REQUEST);
        assertEquals(1, VirtioVsock.SHUTDOWN_RCV);
        assertEquals(2, VirtioVsock.SHUTDOWN_SEND);
        assertEquals(1, VirtioVsock.SEQ_EOM);
        assertEquals(2, VirtioVsock.SEQ_EOR);
        assertEquals(0, VirtioVsock.EVENT_TRANSPORT_RESET);
    }

    @Test
    void shouldUseConsolePort0QueuesAndConfigOffsets()
    {
        assertEquals(0, VirtioConsole.F_SIZE);
        assertEquals(1, VirtioConsole.F_MULTIPORT);
        assertEquals(2, VirtioConsole.F_EMERG_WRITE);
        assertEquals(0, VirtioConsole.RECEIVEQ);
        assertEquals(1, VirtioConsole.TRANSMITQ);
        assertEquals(0, VirtioConsole.CONFIG_COLS);
        assertEquals(2, VirtioConsole.CONFIG_ROWS);
        assertEquals(4, VirtioConsole.CONFIG_MAX_NR_PORTS);
        assertEquals(8, VirtioConsole.CONFIG_EMERG_WR);
    }
}
