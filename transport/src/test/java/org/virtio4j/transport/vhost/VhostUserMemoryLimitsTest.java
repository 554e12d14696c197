package org.virtio4j.transport.vhost;

import org.junit.jupiter.api.Test;
import org.virtio4j.memory.MemoryBacking;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.virtio4j.transport.vhost.VhostUserFrontEnd.region;

/**
 * The guest memory a front-end maps: memfds that can shrink under the mapping are counted (QEMU seals its own;
 * files and hugetlbfs cannot be sealed, so a device never relies on seals), and one connection maps no more than
 * its cap.
 */
class VhostUserMemoryLimitsTest extends VhostUserBlkSession
{
    @Test
    void shouldCountRegionsWhoseFileCanShrink() throws Throwable
    {
        try (VhostUserFrontEnd fe = connect(); MemoryBacking sealed = MemoryBacking.memfd("sealed-guest", MEMORY))
        {
            negotiate(fe);
            addMemory(fe);
            assertEquals(1, server.unsealedRegions(), "an unsealed memfd");
            HostileFds.seal(sealed.fd());
            fe.send(VhostUserRequest.ADD_MEM_REG, NEED_REPLY, region(MEMORY, MEMORY, USER_BASE + MEMORY, 0), sealed.fd());
            assertEquals(0, fe.u64Reply(VhostUserRequest.ADD_MEM_REG));
            assertEquals(1, server.unsealedRegions(), "a memfd sealed against shrinking is not counted");
        }
    }

    @Test
    void shouldRefuseARegionBeyondTheGuestMemoryCapOfAConnection() throws Exception
    {
        System.setProperty(FrontEndMemory.MAX_BYTES_PROPERTY, Long.toString(MEMORY + MEMORY / 2));
        try (VhostUserFrontEnd fe = connect(); MemoryBacking more = MemoryBacking.memfd("more-guest", MEMORY))
        {
            negotiate(fe);
            addMemory(fe);
            fe.send(VhostUserRequest.ADD_MEM_REG, NEED_REPLY, region(MEMORY, MEMORY, USER_BASE + MEMORY, 0), more.fd());
            assertEquals(1, fe.u64Reply(VhostUserRequest.ADD_MEM_REG), "refused: the two regions exceed the cap");
        }
        finally
        {
            System.clearProperty(FrontEndMemory.MAX_BYTES_PROPERTY);
        }
    }
}
