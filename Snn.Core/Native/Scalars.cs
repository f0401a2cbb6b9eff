using TorchSharp;

namespace Snn.Core.Native;

/// <summary>
/// Scalars that live as long as the process. TorchSharp turns a number passed where a
/// <see cref="Scalar"/> is expected (the alpha of <c>a + b</c> and <c>add_</c>, a clamp bound, the t of
/// <c>x / t</c>) into a temporary Scalar that nothing references once its native handle has been handed
/// to libtorch; a garbage collection on another thread can then finalize it, freeing the native value
/// while libtorch still reads it (c10 "toDouble" check failures, seen under parallel tests). Code on
/// hot paths passes these instead, or a Scalar held by a <c>using</c> for the duration of the call.
/// </summary>
internal static class Scalars
{
    /// <summary>The integer 1: the alpha of an addition (what TorchSharp's <c>add(Tensor)</c> passes).</summary>
    public static readonly Scalar One = 1.ToScalar();
}
