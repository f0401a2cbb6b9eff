namespace Snn.Core.Simulation;

/// <summary>Options of <see cref="SpikingNetwork.Run"/>.</summary>
public sealed record SimulationOptions
{
    /// <summary>
    /// The number of time steps pushed through each synapse in one call (the synapse runs on
    /// [chunk * B, ...]); the neuron scan then walks those steps one by one. Memory grows with the
    /// chunk, never with T. Valid range &gt;= 1; null picks <see cref="SpikingNetwork.DefaultTimeChunk"/>.
    /// </summary>
    public int? TimeChunk { get; init; }

    /// <summary>
    /// Record per-layer statistics (mean input z, rate r, spike counts, v(0), v(T), synaptic
    /// operations) for error analysis and energy estimates. Costs a few [B, ...] tensors per layer.
    /// </summary>
    public bool Record { get; init; }

    /// <summary>
    /// Earlier step counts t at which to read the network out as well, strictly increasing with
    /// 1 &lt;= t &lt; T. The dynamics are causal and v(0) does not depend on T, so the readout at t is
    /// exactly <see cref="SpikingNetwork.Run"/> with T = t (output (1/t) sum_{s &lt;= t} of the
    /// output layer's input, and, with <see cref="Record"/>, the statistics after t steps), at no
    /// extra simulation cost: one run at T = 32 with readouts 1, 2, 4, 8, 16 replaces six runs.
    /// Null or empty: none. Results are in <see cref="SimulationResult.Readouts"/>, or handed to
    /// <see cref="OnReadout"/> when that is set.
    /// </summary>
    public IReadOnlyList<int>? Readouts { get; init; }

    /// <summary>
    /// Where each readout of <see cref="Readouts"/> goes as soon as the simulation reaches its step
    /// count: the callback gets the result (equal to a run with T = t, as a kept readout is) and the
    /// result is disposed when the callback returns, so it must not keep the result or its tensors.
    /// The readouts are then not kept in <see cref="SimulationResult.Readouts"/> (empty), and a run
    /// holds one readout's recorded statistics at a time instead of all of them until it ends.
    /// Null (default): readouts are kept.
    /// </summary>
    public Action<SimulationResult>? OnReadout { get; init; }

    /// <summary>
    /// Whether runs on CPU float32 / float64 tensors use the fused raw-memory neuron scan (default true).
    /// False runs the tensor-operation path, <see cref="Neurons.IfNeuron.StepInPlace"/> step by step, which
    /// other devices and dtypes always take; both give bit-identical results (a test compares them), so this
    /// only changes speed.
    /// </summary>
    public bool FusedScan { get; init; } = true;
}
