using static TorchSharp.torch;

namespace Snn.Core.Native;

/// <summary>
/// What the raw-memory kernels (fused activations, error summary) share: the float32 pointer of a
/// contiguous CPU tensor, and a parallel loop over fixed blocks whose results come back in block order,
/// so that a caller folding them in that order gets the same result for any thread count.
/// </summary>
internal static unsafe class RawBlocks
{
    /// <summary>Elements per parallel work item: 2^16, a multiple of every SIMD width.</summary>
    public const int BlockSize = 1 << 16;

    /// <summary>
    /// Runs <paramref name="block"/>(start, length) over consecutive blocks of <see cref="BlockSize"/> elements
    /// covering [0, <paramref name="count"/>), in parallel on torch's threads (<see cref="TorchThreads"/>),
    /// and returns the block results in block order.
    /// </summary>
    public static T[] Run<T>(long count, Func<long, int, T> block)
    {
        var blocks = (int)((count + BlockSize - 1) / BlockSize);
        var results = new T[blocks];
        TorchThreads.For(blocks, b =>
        {
            var start = (long)b * BlockSize;
            results[b] = block(start, (int)Math.Min(BlockSize, count - start));
        });

        return results;
    }

    /// <summary>
    /// The data pointer of <paramref name="t"/>, which must be contiguous float32 on the CPU
    /// (<paramref name="user"/> names the kernel in the error otherwise).
    /// </summary>
    public static void* Float32Pointer(Tensor t, string user)
    {
        if (!t.is_contiguous() || t.dtype != ScalarType.Float32 || t.device_type != TorchSharp.DeviceType.CPU)
        {
            throw new InvalidOperationException($"{user} needs contiguous float32 CPU tensors");
        }

        fixed (byte* p = t.bytes)
        {
            return p;
        }
    }
}
