using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Simulation;

/// <summary>
/// A converted spiking network: layers of integrate-and-fire neurons (soft reset, spikes carry
/// theta, PAPER.md "Neuron") connected by synapses, ending in an accumulating output layer whose
/// mean pre-activation over T steps is the network output. Layers may have several inputs whose
/// currents add (residual blocks). The input image is fed as the same analog current at every step
/// (direct coding), so its synaptic current is computed once per run.
/// <para>
/// The simulation walks time in chunks of <see cref="SimulationOptions.TimeChunk"/> steps: per chunk,
/// every layer's synapse runs once on the stacked [chunk * B, ...] spikes of its source, then its
/// neurons scan the chunk step by step in place. Memory depends on the chunk, not on T. The output
/// layer uses linearity, (1/T) sum_t (W x(t) + b) = W ((1/T) sum_t x(t)) + b, and runs once.
/// </para>
/// </summary>
public sealed class SpikingNetwork : IDisposable
{
    /// <summary>The <see cref="SpikingInput.Source"/> index that means the analog input image.</summary>
    public const int ImageSource = -1;

    /// <summary>The time chunk used when <see cref="SimulationOptions.TimeChunk"/> is null (chosen by measurement, see docs).</summary>
    public const int DefaultTimeChunk = 1;

    private static int threadsConfigured;

    /// <summary>
    /// The potentials and per-layer output buffers of the last run that exposed neither (no recording,
    /// no captured trains), kept for the next such run with the same batch size, dtype and chunk: a
    /// fresh state is about 80 MB of new pages per batch for fmnist-vgg at B = 256, a fixed cost that
    /// runs with small T cannot amortise. Taken with an atomic exchange, so concurrent runs never share it.
    /// </summary>
    private StateBuffers? reusableState;

    internal SpikingNetwork(long[] inputShape, IReadOnlyList<SpikingLayer> layers)
    {
        if (Interlocked.Exchange(ref threadsConfigured, 1) == 0)
        {
            torch.set_num_threads(Environment.ProcessorCount);
        }

        InputShape = inputShape;
        Layers = layers;
        NeuronLayers = Enumerable.Range(0, layers.Count).Where(i => layers[i].HasNeuron).ToArray();
        Device = layers.Select(l => l.Device).FirstOrDefault(d => d is not null) ?? Native.ComputeDevices.Cpu;
    }

    /// <summary>
    /// Where the network's tensors live (the CPU unless it was moved with <see cref="To"/>); images given to
    /// <see cref="Run"/> must be there too. On the CPU, float32 and float64 runs use the fused neuron scan; on
    /// other devices the same dynamics run as tensor operations.
    /// </summary>
    public Device Device { get; }

    /// <summary>The shape of one input image, e.g. [1, 28, 28].</summary>
    public long[] InputShape { get; }

    /// <summary>The layers in simulation order; every input's source precedes its layer; only the last has no neuron.</summary>
    public IReadOnlyList<SpikingLayer> Layers { get; }

    /// <summary>Indices (into <see cref="Layers"/>) of the layers with neurons, in order: the layers Phase II calibrates.</summary>
    public IReadOnlyList<int> NeuronLayers { get; }

    /// <summary>
    /// Simulates T steps on a batch and returns the mean output over T, [B, classes], and, when
    /// <see cref="SimulationOptions.Record"/> is set, per-layer statistics.
    /// </summary>
    /// <param name="images">The analog input, [B, ...InputShape], B &gt;= 1.</param>
    /// <param name="timeSteps">T &gt;= 1.</param>
    /// <param name="options">Chunking and recording; null for defaults.</param>
    /// <exception cref="ArgumentException">A wrong image shape, images on another device than <see cref="Device"/>, T &lt; 1 or a chunk &lt; 1.</exception>
    public SimulationResult Run(Tensor images, int timeSteps, SimulationOptions? options = null)
    {
        options ??= new SimulationOptions();
        Guard.Rank(images, InputShape.Length + 1, nameof(images), $"[B, {string.Join(", ", InputShape)}]");
        Guard.SameShape(images, [images.shape[0], .. InputShape], nameof(images));
        Guard.AtLeast(images.shape[0], 1, nameof(images), "batch size B");
        Guard.AtLeast(timeSteps, 1, nameof(timeSteps), "time steps T");
        var chunk = options.TimeChunk ?? DefaultTimeChunk;
        Guard.AtLeast(chunk, 1, nameof(options), "TimeChunk");
        var readouts = options.Readouts ?? [];
        for (var i = 0; i < readouts.Count; i++)
        {
            if (readouts[i] < 1 || readouts[i] >= timeSteps || (i > 0 && readouts[i] <= readouts[i - 1]))
            {
                throw new ArgumentException(
                    $"Readouts[{i}] = {readouts[i]} is out of range: expected strictly increasing step counts t with 1 <= t < T = {timeSteps}",
                    nameof(options));
            }
        }

        var record = options.Record ? Enumerable.Repeat(true, Layers.Count).ToArray() : null;
        var early = new List<SimulationResult>();
        var run = Simulate(images, timeSteps, Layers.Count - 1, record, null, chunk, readouts, (t, o) =>
        {
            var readout = new SimulationResult(o.Output!, t, options.Record ? o.Statistics.Select(s => s!).ToArray() : [], []);
            if (options.OnReadout is null)
            {
                early.Add(readout);
                return;
            }

            using (readout)
            {
                options.OnReadout(readout);
            }
        }, options.FusedScan);
        return new SimulationResult(run.Output!, timeSteps, options.Record ? run.Statistics.Select(s => s!).ToArray() : [], early);
    }

    /// <summary>A deep copy (weights, thresholds and v(0) copied), e.g. to compare calibration stages.</summary>
    public SpikingNetwork Clone() => new(InputShape, Layers.Select(l => l.Clone()).ToArray());

    /// <summary>A deep copy with every tensor on <paramref name="device"/> (this network is unchanged).</summary>
    /// <param name="device">A device this process can use (see <see cref="Native.ComputeDevices.EnsureAvailable"/>).</param>
    /// <exception cref="ArgumentException">The device cannot be used here.</exception>
    public SpikingNetwork To(Device device)
    {
        Native.ComputeDevices.EnsureAvailable(device, nameof(device));
        return new(InputShape, Layers.Select(l => l.CloneTo(device)).ToArray());
    }

    /// <summary>Refuses a tensor that is not on <see cref="Device"/>, naming both devices and the argument.</summary>
    internal void EnsureOnDevice(Tensor tensor, string name)
    {
        if (tensor.device_type != Device.type || (Device.index >= 0 && tensor.device_index != Device.index))
        {
            throw new ArgumentException(
                $"{name} are on {tensor.device}, the network on {Device}: expected them on the network's device (images.to(network.Device))", name);
        }
    }

    /// <summary>Disposes every layer and the kept simulation state.</summary>
    public void Dispose()
    {
        foreach (var layer in Layers)
        {
            layer.Dispose();
        }

        Interlocked.Exchange(ref reusableState, null)?.Dispose();
    }

    /// <summary>
    /// The simulation engine. Runs layers 0..<paramref name="lastLayer"/>; records statistics of
    /// layers with <paramref name="record"/>[l]; returns the full output trains [T, B, ...] of layers
    /// with <paramref name="capture"/>[l]. Every returned tensor is moved to the caller's scope.
    /// The steps are those of <see cref="SimulationRun"/>: prepare, then chunks of steps, with a
    /// readout after t steps for each t in <paramref name="readouts"/>, then the final result. With
    /// <paramref name="fusedScan"/> false the neurons run as tensor operations even where the fused scan applies.
    /// </summary>
    internal EngineOutput Simulate(
        Tensor images, int timeSteps, int lastLayer, bool[]? record, bool[]? capture, int chunk,
        IReadOnlyList<int>? readouts = null, Action<int, EngineOutput>? onReadout = null, bool fusedScan = true)
    {
        EnsureOnDevice(images, nameof(images));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var n = lastLayer + 1;

        // The state may be reused when nothing of it leaves the run (see reusableState).
        var reuse = record is null && (capture is null || !capture.Contains(true));
        var state = reuse ? TakeState(n, images, chunk) : null;
        var run = new SimulationRun(this, images, n, record, capture, state, fusedScan);
        var nextReadout = 0;
        for (var t0 = 0; t0 < timeSteps;)
        {
            var stop = readouts is not null && nextReadout < readouts.Count ? readouts[nextReadout] : timeSteps;
            var steps = Math.Min(chunk, stop - t0);
            run.RunChunk(steps);
            t0 += steps;
            if (t0 == stop && stop < timeSteps)
            {
                // A readout: the state after t steps is exactly that of a run with T = t (causal
                // dynamics, v(0) independent of T); counts and v are copied because they keep changing.
                onReadout?.Invoke(t0, run.Finish(t0, true));
                nextReadout++;
            }
        }

        var result = run.Finish(timeSteps, false);
        if (state is not null)
        {
            Interlocked.Exchange(ref reusableState, state)?.Dispose();
        }

        return result;
    }

    /// <summary>The kept state when it fits a run of n layers on these images with this chunk, else new buffers.</summary>
    private StateBuffers TakeState(int n, Tensor images, int chunk)
    {
        var batch = images.shape[0];
        var state = Interlocked.Exchange(ref reusableState, null);
        if (state is not null && !state.Fits(n, batch, images.dtype, chunk, images.device))
        {
            state.Dispose();
            state = null;
        }

        return state ?? new StateBuffers(n, batch, images.dtype, chunk, images.device);
    }
}
