using static TorchSharp.torch;

namespace Snn.Core.Data;

/// <summary>
/// Writable views of a contiguous CPU tensor's memory, so readers decode straight into the tensor that the
/// dataset keeps (no managed array and no copy: the peak memory of reading is the dataset itself).
/// </summary>
internal static unsafe class TensorMemory
{
    /// <summary>
    /// The bytes [offset, offset + length) of <paramref name="tensor"/>'s data (element bytes in memory order).
    /// Valid while the tensor lives; the tensor must be contiguous and on the CPU.
    /// </summary>
    public static Span<byte> Bytes(Tensor tensor, long offset, int length)
    {
        var total = tensor.numel() * tensor.ElementSize;
        if (offset < 0 || length < 0 || offset + length > total)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"[{offset}, {offset + length}) is outside the tensor's {total} bytes");
        }

        return length == 0 ? Span<byte>.Empty : new Span<byte>(Base(tensor) + offset, length);
    }

    /// <summary>The address of element 0 of a contiguous CPU tensor with at least one element.</summary>
    public static byte* Base(Tensor tensor)
    {
        if (!tensor.is_contiguous() || tensor.device_type != TorchSharp.DeviceType.CPU || tensor.numel() == 0)
        {
            throw new ArgumentException("expected a contiguous, non-empty CPU tensor", nameof(tensor));
        }

        using var flat = tensor.view(-1);
        using var first = flat.narrow(0, 0, 1);
        fixed (byte* p = first.bytes)
        {
            return p;
        }
    }

    /// <summary>Adds the tensor's bytes [offset, end) to a CRC-32, in pieces of at most 1 GiB.</summary>
    public static void AppendTo(ref Crc32 crc, Tensor tensor, long offset, long end)
    {
        for (var start = offset; start < end; start += 1 << 30)
        {
            crc.Append(Bytes(tensor, start, (int)Math.Min(1 << 30, end - start)));
        }
    }
}
