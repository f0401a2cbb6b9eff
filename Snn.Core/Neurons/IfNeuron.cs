using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Neurons;

/// <summary>
/// The outcome of one integrate-and-fire step: the spikes s(t) in {0, 1} and the potential v(t)
/// after the soft reset.
/// </summary>
/// <param name="Spikes">s(t) = 1 where v(t) &gt; theta after charging, else 0; same shape as the input.</param>
/// <param name="Potential">v(t) = v(t-1) + I(t) - theta * s(t): the membrane potential after the soft reset.</param>
public readonly record struct IfStepResult(Tensor Spikes, Tensor Potential);

/// <summary>
/// The outcome of a T-step integrate-and-fire run over an input of shape [T, B, ...].
/// </summary>
/// <param name="Outputs">theta * s(t) for t = 1..T, shape [T, B, ...]: each spike carries its threshold.</param>
/// <param name="SpikeCounts">sum over t of s(t), shape [B, ...], values in [0, T].</param>
/// <param name="FinalPotential">v(T), shape [B, ...].</param>
public readonly record struct IfRunResult(Tensor Outputs, Tensor SpikeCounts, Tensor FinalPotential);

/// <summary>
/// The integrate-and-fire neuron with soft reset (PAPER.md, "Neuron"), as pure functions over
/// tensors: state in, state out, nothing hidden. For a threshold theta &gt; 0 and input current I(t):
/// <code>
/// charge: v(t) = v(t-1) + I(t)
/// fire:   s(t) = 1 if v(t) &gt; theta else 0
/// reset:  v(t) = v(t) - theta * s(t)      (subtract, never zero)
/// output: x_out(t) = theta * s(t)
/// </code>
/// Thresholds and initial potentials are tensors broadcastable to the neuron shape: a scalar for
/// one threshold per layer, or one value per neuron.
/// </summary>
public static class IfNeuron
{
    /// <summary>
    /// The alpha = 1 of add/sub, held for the process: TorchSharp's implicit temporary Scalar (a + b is
    /// a.add(b, 1)) is unreachable once its handle is passed to native code, so a garbage collection on
    /// another thread can finalize it during the call (c10 "toDouble" check failures under parallel tests).
    /// </summary>
    private static readonly Scalar One = 1.ToScalar();

    /// <summary>Charge: v(t) = v(t-1) + I(t). Shapes must broadcast.</summary>
    /// <param name="potential">v(t-1), any real values.</param>
    /// <param name="current">I(t) = W x(t) + b, any real values.</param>
    public static Tensor Charge(Tensor potential, Tensor current) => potential.add(current, One);

    /// <summary>Fire: s(t) = 1 where v(t) &gt; theta, else 0 (a strict comparison), in the dtype of v.</summary>
    /// <param name="potential">v(t) after charging.</param>
    /// <param name="threshold">theta &gt; 0, broadcastable to v.</param>
    public static Tensor Fire(Tensor potential, Tensor threshold) => potential.gt(threshold).to_type(potential.dtype);

    /// <summary>Soft reset: v(t) = v(t) - theta * s(t). The potential is reduced by the threshold, never set to zero.</summary>
    /// <param name="potential">v(t) after charging.</param>
    /// <param name="spikes">s(t) in {0, 1}.</param>
    /// <param name="threshold">theta &gt; 0, broadcastable to v.</param>
    public static Tensor Reset(Tensor potential, Tensor spikes, Tensor threshold) => potential - threshold * spikes;

    /// <summary>One step: charge, fire, soft reset. Returns s(t) and v(t).</summary>
    /// <param name="potential">v(t-1).</param>
    /// <param name="current">I(t), same shape as v(t-1) or broadcastable to it.</param>
    /// <param name="threshold">theta &gt; 0, broadcastable to v.</param>
    public static IfStepResult Step(Tensor potential, Tensor current, Tensor threshold)
    {
        using var charged = Charge(potential, current);
        var spikes = Fire(charged, threshold);
        return new IfStepResult(spikes, Reset(charged, spikes, threshold));
    }

    /// <summary>
    /// Runs T steps of <see cref="Step"/> over <paramref name="currents"/> of shape [T, B, ...] from
    /// v(0) = <paramref name="initialPotential"/>, and returns the theta-weighted outputs
    /// x_out(t) = theta * s(t) [T, B, ...], the spike counts sum_t s(t) [B, ...] in [0, T] and the final
    /// potential v(T) [B, ...], all in the dtype of <paramref name="currents"/>.
    /// Summing the dynamics gives, for every neuron, r = z + (v(0) - v(T)) / T with r = mean_t x_out(t)
    /// and z = mean_t I(t) (exact in real arithmetic; up to rounding in floating point).
    /// The dynamics come only from <see cref="Charge"/>, <see cref="Fire"/> and <see cref="Reset"/>.
    /// Intended for inference; for backpropagation through time compose <see cref="Step"/> with a
    /// surrogate spike function instead.
    /// </summary>
    /// <param name="currents">I(1..T), shape [T, B, ...] with T &gt;= 1, any finite real values.</param>
    /// <param name="threshold">theta, all entries finite and &gt; 0, broadcastable to [B, ...] (a scalar per layer or one per neuron).</param>
    /// <param name="initialPotential">v(0), broadcastable to [B, ...]; the paper's default is theta / 2.</param>
    /// <exception cref="ArgumentException">T &lt; 1, a threshold &lt;= 0 or not finite, or shapes that do not broadcast.</exception>
    public static IfRunResult Run(Tensor currents, Tensor threshold, Tensor initialPotential)
    {
        Guard.Rank(currents, 1, nameof(currents), "[T, B, ...] with T >= 1");
        var steps = currents.shape[0];
        Guard.AtLeast(steps, 1, nameof(currents), "time steps T (first dimension)");
        Guard.Positive(threshold, nameof(threshold));
        var neuronShape = currents.shape[1..];
        Guard.Broadcastable(threshold, neuronShape, nameof(threshold));
        Guard.Broadcastable(initialPotential, neuronShape, nameof(initialPotential));

        using var scope = NewDisposeScope();
        var theta = threshold.to_type(currents.dtype);
        var v = initialPotential.to_type(currents.dtype).expand(neuronShape).clone();
        var outputs = torch.empty_like(currents);
        var counts = torch.zeros(neuronShape, currents.dtype, currents.device);
        for (long t = 0; t < steps; t++)
        {
            using var inner = NewDisposeScope();
            var (spikes, potential) = Step(v, currents[t], theta);
            v.copy_(potential);
            counts.add_(spikes, One);
            outputs[t].copy_(spikes * theta);
        }

        return new IfRunResult(outputs.MoveToOuterDisposeScope(), counts.MoveToOuterDisposeScope(), v.MoveToOuterDisposeScope());
    }
}
