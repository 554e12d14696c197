package org.virtio4j.devices.core;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.virtio4j.devices.testing.RecordingDevice;
import org.virtio4j.devices.testing.TestMemory;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioFeatures;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.virtio4j.virtio.DeviceStatus.ACKNOWLEDGE;
import static org.virtio4j.virtio.DeviceStatus.DEVICE_NEEDS_RESET;
import static org.virtio4j.virtio.DeviceStatus.DRIVER;
import static org.virtio4j.virtio.DeviceStatus.DRIVER_OK;
import static org.virtio4j.virtio.DeviceStatus.FAILED;
import static org.virtio4j.virtio.DeviceStatus.FEATURES_OK;

/**
 * The status handshake and negotiation state of {@link DeviceState}, against vm-virtio's
 * {@code VirtioDevice::ack_device_status} scenarios: one bit at a time, FEATURES_OK refused for unoffered
 * features, EVENT_IDX passed on to every queue, activation exactly once at DRIVER_OK, FAILED always taken, 0 resets.
 */
class DeviceStateTest
{
    private static final int ACK_DRIVER = ACKNOWLEDGE | DRIVER;
    private static final int ACK_DRIVER_FEATURES = ACK_DRIVER | FEATURES_OK;
    private static final int RUNNING = ACK_DRIVER_FEATURES | DRIVER_OK;
    private static final long OFFERED = VirtioFeatures.bit(0) | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) |
        VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(40);

    private final TestMemory testMemory = new TestMemory(1 << 16);
    private final List<String> signals = new ArrayList<>();
    private final Interrupt interrupt = new Interrupt()
    {
        @Override
        public void signalUsedBuffers(final int queue)
        {
            signals.add("used " + queue);
        }

        @Override
        public void signalConfigChange()
        {
            signals.add("config");
        }
    };
    private final RecordingDevice device = new RecordingDevice(OFFERED, new byte[8], 8, 16, 4);
    private final DeviceState state = new DeviceState(device).attach(testMemory.memory(), interrupt);

    @AfterEach
    void tearDown()
    {
        testMemory.close();
    }

    private void acceptFeatures(final long features)
    {
        state.setDriverFeatures(0, (int)features);
        state.setDriverFeatures(1, (int)(features >>> 32));
    }

    private void driveTo(final int target, final long features)
    {
        final int[] steps = {ACKNOWLEDGE, ACK_DRIVER, ACK_DRIVER_FEATURES, RUNNING};
        for (final int step : steps)
        {
            if (step == ACK_DRIVER_FEATURES)
            {
                acceptFeatures(features);
            }
            assertTrue(state.writeStatus(step), "step to status " + step);
            if (step == target)
            {
                return;
            }
        }
    }

    @Test
    void shouldWalkTheFullHandshakeOneBitAtATimeAndActivateWithWhatWasNegotiated()
    {
        assertEquals(0, state.status());
        assertTrue(state.writeStatus(ACKNOWLEDGE));
        assertEquals(ACKNOWLEDGE, state.status());
        assertTrue(state.writeStatus(ACK_DRIVER));
        assertEquals(ACK_DRIVER, state.status());
        final long accepted = VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(0);
        acceptFeatures(accepted);
        assertEquals(accepted, state.driverFeatures());
        assertTrue(state.writeStatus(ACK_DRIVER_FEATURES));
        assertEquals(ACK_DRIVER_FEATURES, state.status());
        assertEquals(0, device.activations(), "nothing activates before DRIVER_OK");
        assertTrue(state.writeStatus(RUNNING));
        assertEquals(RUNNING, state.status());
        assertTrue(state.activated());
        assertEquals(1, device.activations());
        assertEquals(accepted, device.activatedFeatures());
        assertSame(state.queues(), device.activatedQueues(), "the device gets the transport's queues");
        assertSame(testMemory.memory(), device.activatedMemory());
        assertSame(interrupt, device.activatedInterrupt());
        assertEquals(0, state.refusedTransitions());
    }

    @Test
    void shouldRefuseFeaturesOkWhenTheDriverAcceptsALowFeatureThatWasNotOffered()
    {
        driveTo(ACK_DRIVER, 0);
        acceptFeatures(VirtioFeatures.bit(1) | VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        assertFalse(state.writeStatus(ACK_DRIVER_FEATURES));
        assertEquals(ACK_DRIVER, state.status(), "FEATURES_OK not set");
        assertEquals(1, state.refusedTransitions());
        acceptFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        assertTrue(state.writeStatus(ACK_DRIVER_FEATURES), "accepted once the driver drops the unoffered bit");
    }

    @Test
    void shouldRefuseFeaturesOkWhenTheDriverAcceptsAHighFeatureThatWasNotOffered()
    {
        driveTo(ACK_DRIVER, 0);
        state.setDriverFeatures(1, 1 << (VirtioFeatures.RING_PACKED - 32));
        assertFalse(state.writeStatus(ACK_DRIVER_FEATURES));
        assertEquals(ACK_DRIVER, state.status());
        assertEquals(1, state.refusedTransitions());
    }

    @Test
    void shouldPassEventIdxToEveryQueueOnFeaturesOk()
    {
        driveTo(ACK_DRIVER, 0);
        acceptFeatures(VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX));
        for (final SplitQueue queue : state.queues())
        {
            assertFalse(queue.eventIdxEnabled(), "not before FEATURES_OK");
        }
        assertTrue(state.writeStatus(ACK_DRIVER_FEATURES));
        assertEquals(3, state.queues().length);
        for (final SplitQueue queue : state.queues())
        {
            assertTrue(queue.eventIdxEnabled(), "queue of max size " + queue.maxSize());
        }
    }

    @Test
    void shouldLeaveEventIdxOffWhenTheDriverDidNotAcceptIt()
    {
        state.queues()[1].setEventIdx(true);
        driveTo(ACK_DRIVER_FEATURES, VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        for (final SplitQueue queue : state.queues())
        {
            assertFalse(queue.eventIdxEnabled());
        }
    }

    @Test
    void shouldRefuseSettingTwoBitsAtOnce()
    {
        assertFalse(state.writeStatus(ACK_DRIVER));
        assertEquals(0, state.status());
        driveTo(ACK_DRIVER, 0);
        assertFalse(state.writeStatus(RUNNING), "FEATURES_OK and DRIVER_OK together");
        assertEquals(ACK_DRIVER, state.status());
        assertEquals(0, device.activations());
        assertEquals(2, state.refusedTransitions());
    }

    @Test
    void shouldRefuseSkippingAStep()
    {
        assertFalse(state.writeStatus(DRIVER), "DRIVER before ACKNOWLEDGE");
        assertTrue(state.writeStatus(ACKNOWLEDGE));
        assertFalse(state.writeStatus(ACKNOWLEDGE | FEATURES_OK), "FEATURES_OK before DRIVER");
        assertTrue(state.writeStatus(ACK_DRIVER));
        assertFalse(state.writeStatus(ACK_DRIVER | DRIVER_OK), "DRIVER_OK before FEATURES_OK");
        assertEquals(ACK_DRIVER, state.status());
        assertEquals(0, device.activations());
        assertEquals(3, state.refusedTransitions());
    }

    @Test
    void shouldRefuseClearingBitsAndRewritingTheSameStatus()
    {
        driveTo(ACK_DRIVER_FEATURES, 0);
        assertFalse(state.writeStatus(ACK_DRIVER), "clearing FEATURES_OK");
        assertFalse(state.writeStatus(ACKNOWLEDGE), "clearing two bits");
        assertFalse(state.writeStatus(ACK_DRIVER_FEATURES), "no new bit");
        assertEquals(ACK_DRIVER_FEATURES, state.status());
        assertEquals(3, state.refusedTransitions());
        assertEquals(0, device.resets(), "only 0 resets");
    }

    @Test
    void shouldAlwaysAcceptFailedAndKeepTheOtherBits()
    {
        assertTrue(state.writeStatus(FAILED), "from reset");
        assertEquals(FAILED, state.status());
        assertTrue(state.writeStatus(0));
        driveTo(ACK_DRIVER, 0);
        assertTrue(state.writeStatus(FAILED), "FAILED alone does not clear what was set");
        assertEquals(ACK_DRIVER | FAILED, state.status());
        assertTrue(state.writeStatus(0));
        driveTo(RUNNING, 0);
        assertTrue(state.writeStatus(RUNNING | FAILED));
        assertEquals(RUNNING | FAILED, state.status());
        assertEquals(0, state.refusedTransitions());
    }

    @Test
    void shouldNotAdvanceTheHandshakeOnceFailed()
    {
        driveTo(ACK_DRIVER, 0);
        assertTrue(state.writeStatus(ACK_DRIVER | FAILED));
        assertTrue(state.writeStatus(ACK_DRIVER_FEATURES | FAILED), "taken as another FAILED write");
        assertEquals(ACK_DRIVER | FAILED, state.status(), "FEATURES_OK not set");
        assertFalse(state.writeStatus(ACK_DRIVER_FEATURES), "no FEATURES_OK from a failed status");
        assertEquals(ACK_DRIVER | FAILED, state.status());
    }

    @Test
    void shouldResetEverythingNegotiatedWhenZeroIsWritten()
    {
        state.setDeviceFeaturesSelect(1);
        state.setDriverFeaturesSelect(1);
        state.setQueueSelect(2);
        driveTo(RUNNING, VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) | VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        final SplitQueue queue = state.queues()[1];
        queue.setSize(4);
        queue.setReady(true);
        queue.setDescTableAddress(0x1000, null);
        state.interruptStatus().set(3);

        assertTrue(state.writeStatus(0));
        assertEquals(0, state.status());
        assertEquals(1, device.resets());
        assertFalse(state.activated());
        assertEquals(0, state.driverFeatures());
        assertEquals(0, state.deviceFeaturesSelect());
        assertEquals(0, state.driverFeaturesSelect());
        assertEquals(0, state.queueSelect());
        assertEquals(0, state.interruptStatus().get());
        assertFalse(queue.ready());
        assertEquals(16, queue.size(), "size back to the maximum");
        assertEquals(0, queue.descTable());
        assertFalse(queue.eventIdxEnabled());
        assertTrue(state.writeStatus(0), "0 from 0 is a reset too");
        assertEquals(2, device.resets());
    }

    @Test
    void shouldActivateOnlyOnceAtDriverOk()
    {
        driveTo(RUNNING, 0);
        assertFalse(state.writeStatus(RUNNING), "DRIVER_OK again");
        assertEquals(1, device.activations());
        assertEquals(1, state.refusedTransitions());
    }

    @Test
    void shouldLeaveTheStatusUnchangedAndCountWhenActivationFails()
    {
        driveTo(ACK_DRIVER_FEATURES, 0);
        device.failActivation(true);
        assertFalse(state.writeStatus(RUNNING));
        assertEquals(ACK_DRIVER_FEATURES, state.status());
        assertFalse(state.activated());
        assertEquals(1, state.activationFailures());
        assertEquals(1, state.refusedTransitions());
        device.failActivation(false);
        assertTrue(state.writeStatus(RUNNING), "a later DRIVER_OK may succeed");
        assertEquals(2, device.activations());
        assertEquals(1, state.activationFailures());
    }

    @Test
    void shouldRefuseDriverOkWhileAReadyQueueHasRingsOutsideGuestMemory()
    {
        driveTo(ACK_DRIVER_FEATURES, 0);
        final SplitQueue queue = state.queues()[0];
        assertTrue(queue.setSize(8));
        assertTrue(queue.setDescTableAddress(0x1000, 0));
        assertTrue(queue.setUsedRingAddress(0x2000, 0));
        // The avail ring's index is in memory, its entries run past the end of it.
        assertTrue(queue.setAvailRingAddress(0xfffc, 0));
        queue.setReady(true);
        assertFalse(state.writeStatus(RUNNING));
        assertEquals(ACK_DRIVER_FEATURES, state.status());
        assertEquals(0, device.activations(), "the device never sees the queue");
        assertEquals(1, state.invalidQueues());

        assertTrue(queue.setAvailRingAddress(0x3000, 0));
        assertTrue(state.writeStatus(RUNNING), "rings in memory: DRIVER_OK is taken");
        assertEquals(1, device.activations());
    }

    @Test
    void shouldCountAnUncheckedActivationFailureWithoutThrowing()
    {
        driveTo(ACK_DRIVER_FEATURES, 0);
        device.failActivationWith(new IllegalStateException("device bug"));
        assertFalse(state.writeStatus(RUNNING));
        assertEquals(ACK_DRIVER_FEATURES, state.status());
        assertEquals(1, state.activationFailures());
    }

    @Test
    void shouldOnlySignalNeedsResetToARunningDriver()
    {
        state.markNeedsReset();
        assertEquals(DEVICE_NEEDS_RESET, state.status() & DEVICE_NEEDS_RESET);
        assertTrue(signals.isEmpty(), "no interrupt before activation");
        assertTrue(state.writeStatus(0));
        driveTo(RUNNING, 0);
        state.markNeedsReset();
        assertEquals(RUNNING | DEVICE_NEEDS_RESET, state.status());
        assertEquals(List.of("config"), signals);
    }

    @Test
    void shouldCheckStatusBitsSetAndCleared()
    {
        driveTo(ACK_DRIVER, 0);
        assertTrue(state.checkStatus(DRIVER, FEATURES_OK | FAILED));
        assertFalse(state.checkStatus(FEATURES_OK, 0));
        assertFalse(state.checkStatus(DRIVER, ACKNOWLEDGE), "a bit that must be clear is set");
        assertTrue(state.checkStatus(0, 0));
    }

    @Test
    void shouldReplaceOneHalfOfTheDriverFeaturesPerPageAndIgnoreOtherPages()
    {
        state.setDriverFeatures(0, 0xdead_beef);
        state.setDriverFeatures(1, 0x1234_5678);
        assertEquals(0x1234_5678_dead_beefL, state.driverFeatures());
        state.setDriverFeatures(0, 1);
        assertEquals(0x1234_5678_0000_0001L, state.driverFeatures());
        state.setDriverFeatures(2, -1);
        state.setDriverFeatures(-1, -1);
        assertEquals(0x1234_5678_0000_0001L, state.driverFeatures(), "pages other than 0 and 1 are ignored");
    }

    @Test
    void shouldSelectQueuesByTheLowSixteenBits()
    {
        assertArrayEquals(new int[] {8, 16, 4}, new int[] {state.queues()[0].maxSize(), state.queues()[1].maxSize(), state.queues()[2].maxSize()});
        state.setQueueSelect(0x1_0001);
        assertEquals(1, state.queueSelect());
        assertSame(state.queues()[1], state.selectedQueue());
        state.setQueueSelect(3);
        assertNull(state.selectedQueue(), "out of range");
    }

    @Test
    void shouldWrapTheConfigGenerationAtEightBits()
    {
        for (int i = 0; i < 255; i++)
        {
            state.bumpConfigGeneration();
        }
        assertEquals(255, state.configGeneration());
        state.bumpConfigGeneration();
        assertEquals(0, state.configGeneration());
    }
}
