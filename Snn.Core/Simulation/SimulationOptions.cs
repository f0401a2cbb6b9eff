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
}
