using Snn.Core.Neurons;
using static TorchSharp.torch;

namespace Snn.Core.Calibration;

/// <summary>
/// One differentiable time step of an IF layer for backpropagation through time (PAPER.md's
/// neuron with the surrogate spike of Phase II b):
/// <code>
/// v  = v + I(t)                          (charge)
/// s  = SurrogateSpike(v; theta, alpha)   (fire: H(v - theta) forward, the smooth primitive backward)
/// o  = theta * s                         (the spike carries its threshold)
/// v' = v - theta * s                     (soft reset; with detachReset the reset passes no gradient)
/// </code>
/// The one place of these equations for training: layer-wise weight calibration and the whole-network
/// fine-tune both call it, so their dynamics are the simulator's (IfNeuron) by construction.
/// </summary>
public static class SurrogateStep
{
    /// <summary>Charges, fires and soft-resets; returns (v', o).</summary>
    /// <param name="potential">v(t-1), [B, ...].</param>
    /// <param name="current">I(t), broadcastable to v.</param>
    /// <param name="threshold">theta &gt; 0, broadcastable to v.</param>
    /// <param name="slope">alpha &gt; 0 of the surrogate, a scalar tensor or broadcastable to v.</param>
    /// <param name="detachReset">True to stop the reset's gradient (the usual choice).</param>
    public static (Tensor Potential, Tensor Output) Step(Tensor potential, Tensor current, Tensor threshold, Tensor slope, bool detachReset)
    {
        var v = IfNeuron.Charge(potential, current);
        var s = SurrogateSpike.Apply(v, threshold, slope);
        var o = threshold * s;
        var next = IfNeuron.Reset(v, detachReset ? s.detach() : s, threshold);
        return (next, o);
    }
}
