package org.virtio4j.transport.vhost;

import java.util.ArrayList;
import java.util.List;

import org.virtio4j.memory.GuestAddress;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestRegion;
import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.Linux;

/**
 * The guest memory a front-end shares: regions mapped from the fds it sends, at their mmap offsets, each with its
 * guest-physical base and the front-end's virtual address (ring addresses arrive as those). Every region is
 * checked before it is mapped: a positive size, no address arithmetic past 2^64, a page-aligned offset, the whole
 * range inside the file (a mapping past its end would fault on access), and no overlap with another region.
 *
 * <p>Owned by one connection's thread. Mappings are released when replaced, removed, or on close.
 */
final class FrontEndMemory implements AutoCloseable
{
    private static final long PAGE = Linux.pageSize();
    /** The system property that caps the guest memory one connection may map. */
    public static final String MAX_BYTES_PROPERTY = "virtio4j.vhost.maxGuestMemoryBytes";
    /** The cap when the property is not set: 1 TiB (the address space left to others is what it protects). */
    public static final long DEFAULT_MAX_BYTES = 1L << 40;

    private record Region(long gpa, long size, long userAddr, long mmapOffset, MemoryBacking backing)
    {
    }

    private final List<Region> regions = new ArrayList<>();
    private GuestMemory memory;

    /** @return the guest memory, or null before any region arrives. */
    GuestMemory guestMemory()
    {
        return memory;
    }

    /** @return the number of regions. */
    int regionCount()
    {
        return regions.size();
    }

    /**
     * @return true if a region's file is now shorter than its mapping (accesses past the end fault): asked of the
     *         files, never of the memory, so it is safe to ask after a fault that surfaced late.
     */
    boolean shrunk()
    {
        for (final Region region : regions)
        {
            try
            {
                if (Long.compareUnsigned(Linux.fileSize(region.backing.fd()), region.mmapOffset + region.size) < 0)
                {
                    return true;
                }
            }
            catch (final ErrnoException e)
            {
                return true;
            }
        }
        return false;
    }

    /** @return the bytes mapped. */
    long mappedBytes()
    {
        long total = 0;
        for (final Region region : regions)
        {
            total += region.size;
        }
        return total;
    }

    /**
     * Maps one region. The fd is consumed: owned by the region on success, closed on failure.
     *
     * @return true if its file cannot shrink under the mapping (a memfd sealed with F_SEAL_SHRINK, as QEMU seals
     *         them); false for a file, hugetlbfs or an unsealed memfd, whose shrinking a device survives (it fails).
     * @throws VhostUserException naming what is wrong with the region.
     */
    boolean add(final long gpa, final long size, final long userAddr, final long mmapOffset, final int fd) throws VhostUserException
    {
        try
        {
            check(gpa, size, userAddr, mmapOffset, fd);
            final long max = Long.getLong(MAX_BYTES_PROPERTY, DEFAULT_MAX_BYTES);
            if (Long.compareUnsigned(mappedBytes() + size, max) > 0)
            {
                throw new VhostUserException("region gpa=" + GuestAddress.hex(gpa) + " of " + size + " bytes would map more than the " + max +
                    " bytes of guest memory one connection may (" + MAX_BYTES_PROPERTY + ")", false);
            }
        }
        catch (final VhostUserException e)
        {
            closeQuietly(fd);
            throw e;
        }
        final int seals = Linux.seals(fd);
        final MemoryBacking backing;
        try
        {
            backing = MemoryBacking.mapFd(fd, mmapOffset, size, true);
        }
        catch (final ErrnoException e)
        {
            closeQuietly(fd);
            throw new VhostUserException("cannot map region gpa=" + GuestAddress.hex(gpa) + ": " + e.getMessage(), false);
        }
        final Region region = new Region(gpa, size, userAddr, mmapOffset, backing);
        final List<Region> next = new ArrayList<>(regions);
        next.add(region);
        final GuestMemory built;
        try
        {
            built = build(next);
        }
        catch (final IllegalArgumentException e)
        {
            release(region);
            throw new VhostUserException(e.getMessage(), false);
        }
        regions.add(region);
        memory = built;
        return seals >= 0 && (seals & Linux.F_SEAL_SHRINK) != 0;
    }

    private static void check(final long gpa, final long size, final long userAddr, final long mmapOffset, final int fd) throws VhostUserException
    {
        final String name = "region gpa=" + GuestAddress.hex(gpa) + " size=0x" + Long.toHexString(size) +
            " userspace_addr=" + GuestAddress.hex(userAddr) + " mmap_offset=0x" + Long.toHexString(mmapOffset);
        if (fd < 0)
        {
            throw new VhostUserException(name + ": no fd", false);
        }
        if (size <= 0 || GuestAddress.addOverflows(gpa, size) || GuestAddress.addOverflows(userAddr, size) ||
            mmapOffset < 0 || GuestAddress.addOverflows(mmapOffset, size))
        {
            throw new VhostUserException(name + ": size or address arithmetic out of range", false);
        }
        if (mmapOffset % PAGE != 0)
        {
            throw new VhostUserException(name + ": mmap_offset is not page-aligned", false);
        }
        final long fileSize;
        try
        {
            fileSize = Linux.fileSize(fd);
        }
        catch (final ErrnoException e)
        {
            throw new VhostUserException(name + ": cannot size the fd: " + e.getMessage(), false);
        }
        if (Long.compareUnsigned(mmapOffset + size, fileSize) > 0)
        {
            throw new VhostUserException(name + ": runs past the end of its file (" + fileSize + " bytes)", false);
        }
    }

    private static GuestMemory build(final List<Region> regions)
    {
        final GuestRegion[] guestRegions = new GuestRegion[regions.size()];
        for (int i = 0; i < guestRegions.length; i++)
        {
            final Region region = regions.get(i);
            guestRegions[i] = new GuestRegion(region.gpa, region.backing.segment(), region.userAddr);
        }
        final GuestMemory built = GuestMemory.of(guestRegions);
        for (int i = 0; i < regions.size(); i++)
        {
            for (int j = i + 1; j < regions.size(); j++)
            {
                final Region a = regions.get(i);
                final Region b = regions.get(j);
                if (Long.compareUnsigned(a.userAddr, b.userAddr + b.size) < 0 && Long.compareUnsigned(b.userAddr, a.userAddr + a.size) < 0)
                {
                    throw new IllegalArgumentException("front-end addresses of regions at " + GuestAddress.hex(a.gpa) + " and " +
                        GuestAddress.hex(b.gpa) + " overlap");
                }
            }
        }
        return built;
    }

    /**
     * Removes the region with this base, size and front-end address, and unmaps it.
     *
     * @return false if there is no such region.
     */
    boolean remove(final long gpa, final long size, final long userAddr)
    {
        for (int i = 0; i < regions.size(); i++)
        {
            final Region region = regions.get(i);
            if (region.gpa == gpa && region.size == size && region.userAddr == userAddr)
            {
                regions.remove(i);
                memory = regions.isEmpty() ? null : build(regions);
                release(region);
                return true;
            }
        }
        return false;
    }

    /**
     * Translates a front-end virtual address range to guest-physical.
     *
     * @return the guest-physical address, or -1 if the range is not inside one region.
     */
    long toGuestPhysical(final long userAddr, final long length)
    {
        for (final Region region : regions)
        {
            final long offset = userAddr - region.userAddr;
            if (Long.compareUnsigned(offset, region.size) < 0 && Long.compareUnsigned(length, region.size - offset) <= 0)
            {
                return region.gpa + offset;
            }
        }
        return -1;
    }

    private static void release(final Region region)
    {
        try
        {
            region.backing.close();
        }
        catch (final ErrnoException e)
        {
            // The mapping is gone either way; the fd close failing leaks nothing we can recover.
        }
    }

    private static void closeQuietly(final int fd)
    {
        try
        {
            Linux.close(fd);
        }
        catch (final ErrnoException e)
        {
            // Already closed.
        }
    }

    /** Unmaps every region. */
    @Override
    public void close()
    {
        for (final Region region : regions)
        {
            release(region);
        }
        regions.clear();
        memory = null;
    }
}
