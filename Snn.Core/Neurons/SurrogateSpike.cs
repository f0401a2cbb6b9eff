using Snn.Core.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Neurons;

/// <summary>
/// The spike function for backpropagation through time (PAPER.md, Phase II b). Forward it is the
/// Heaviside step s = 1[v &gt; theta] (exactly the <see cref="IfNeuron.Fire"/> of the neuron); backward
/// it differentiates the smooth primitive
/// <code>
/// g(v; theta, alpha) = 0.5 * tanh(alpha * (v - theta)) + 0.5
/// dg/dv     = 0.5 * alpha * (1 - tanh^2(alpha * (v - theta)))
/// dg/dtheta = -dg/dv
/// dg/dalpha = 0.5 * (v - theta) * (1 - tanh^2(alpha * (v - theta)))
/// </code>
/// with a learnable slope alpha (init <see cref="InitialSlope"/> = 2.5). It is built with the detach
/// trick s = H + (g - detach(g)): the forward value is exactly H (g - g = 0 in floating point) and
/// autograd sees only g, so the gradients to v, theta and alpha are exactly those of g.
/// </summary>
public static class SurrogateSpike
{
    /// <summary>The paper's initial surrogate slope alpha = 2.5.</summary>
    public const double InitialSlope = 2.5;

    /// <summary>
    /// s = 1[v &gt; theta] forward, d s = d g backward (see the type's remarks). Differentiable in
    /// <paramref name="potential"/>, <paramref name="threshold"/> and <paramref name="slope"/>.
    /// </summary>
    /// <param name="potential">v, any real values, floating dtype.</param>
    /// <param name="threshold">theta &gt; 0, broadcastable to v (not checked here: this runs inside training loops).</param>
    /// <param name="slope">alpha &gt; 0, a scalar tensor or broadcastable to v.</param>
    public static Tensor Apply(Tensor potential, Tensor threshold, Tensor slope)
    {
        using var scope = NewDisposeScope();
        var heaviside = IfNeuron.Fire(potential, threshold);
        var smooth = Primitive(potential, threshold, slope);
        var spikes = heaviside + (smooth - smooth.detach());
        return spikes.MoveToOuterDisposeScope();
    }

    /// <summary>The smooth primitive g = 0.5 * tanh(alpha * (v - theta)) + 0.5, values in (0, 1).</summary>
    /// <param name="potential">v.</param>
    /// <param name="threshold">theta &gt; 0, broadcastable to v.</param>
    /// <param name="slope">alpha &gt; 0, broadcastable to v.</param>
    public static Tensor Primitive(Tensor potential, Tensor threshold, Tensor slope)
    {
        using var scope = NewDisposeScope();
        var g = (slope * (potential - threshold)).tanh().mul(Scalars.Half).add(Scalars.Half, Scalars.One);
        return g.MoveToOuterDisposeScope();
    }

    /// <summary>The backward slope in v: dg/dv = 0.5 * alpha * (1 - tanh^2(alpha * (v - theta))), values in (0, alpha/2].</summary>
    /// <param name="potential">v.</param>
    /// <param name="threshold">theta &gt; 0, broadcastable to v.</param>
    /// <param name="slope">alpha &gt; 0, broadcastable to v.</param>
    public static Tensor PotentialDerivative(Tensor potential, Tensor threshold, Tensor slope)
    {
        using var scope = NewDisposeScope();
        var th = (slope * (potential - threshold)).tanh();
        var d = slope.mul(Scalars.Half) * Scalars.OneMinus(th * th);
        return d.MoveToOuterDisposeScope();
    }

    /// <summary>The backward slope in alpha: dg/dalpha = 0.5 * (v - theta) * (1 - tanh^2(alpha * (v - theta))).</summary>
    /// <param name="potential">v.</param>
    /// <param name="threshold">theta &gt; 0, broadcastable to v.</param>
    /// <param name="slope">alpha &gt; 0, broadcastable to v.</param>
    public static Tensor SlopeDerivative(Tensor potential, Tensor threshold, Tensor slope)
    {
        using var scope = NewDisposeScope();
        var x = potential - threshold;
        var th = (slope * x).tanh();
        var d = x.mul(Scalars.Half) * Scalars.OneMinus(th * th);
        return d.MoveToOuterDisposeScope();
    }
}
