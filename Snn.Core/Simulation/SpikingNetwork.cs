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
    }

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
    /// <exception cref="ArgumentException">A wrong image shape, T &lt; 1 or a chunk &lt; 1.</exception>
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
            early.Add(new SimulationResult(o.Output!, t, options.Record ? o.Statistics.Select(s => s!).ToArray() : [], [])));
        return new SimulationResult(run.Output!, timeSteps, options.Record ? run.Statistics.Select(s => s!).ToArray() : [], early);
    }

    /// <summary>A deep copy (weights, thresholds and v(0) copied), e.g. to compare calibration stages.</summary>
    public SpikingNetwork Clone() => new(InputShape, Layers.Select(l => l.Clone()).ToArray());

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
    /// </summary>
    internal EngineOutput Simulate(
        Tensor images, int timeSteps, int lastLayer, bool[]? record, bool[]? capture, int chunk,
        IReadOnlyList<int>? readouts = null, Action<int, EngineOutput>? onReadout = null)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var n = lastLayer + 1;
        var batch = images.shape[0];
        var dtype = images.dtype;
        var imageCurrent = new Tensor?[n];
        var potential = new Tensor?[n];
        var theta = new Tensor?[n];
        var inputSum = new Tensor?[n][];
        var meanInputSum = new Tensor?[n];
        var counts = new Tensor?[n];
        var captured = new List<Tensor>?[n];
        var thetaFull = new Tensor?[n];
        var fused = NeuronScan.Supports(images);

        // The state may be reused when nothing of it leaves the run (see reusableState).
        var reuse = record is null && (capture is null || !capture.Contains(true));
        var state = reuse ? Interlocked.Exchange(ref reusableState, null) : null;
        if (state is not null && !state.Fits(n, batch, dtype, chunk, images.device))
        {
            state.Dispose();
            state = null;
        }

        state ??= reuse ? new StateBuffers(n, batch, dtype, chunk, images.device) : null;
        for (var l = 0; l < n; l++)
        {
            var layer = Layers[l];
            Tensor? current = null;
            foreach (var input in layer.Inputs.Where(i => i.Source == ImageSource))
            {
                var c = input.Synapse is null ? images : input.Synapse.Forward(images);
                current = current is null ? c : current + c;
            }

            imageCurrent[l] = current;
            if (layer.HasNeuron)
            {
                theta[l] = layer.Threshold!.to_type(dtype);
                thetaFull[l] = theta[l]!.expand(layer.NeuronShape).contiguous();
                // One allocation and one write: v(0) broadcast over the batch (expand + contiguous +
                // clone wrote the state twice, a fixed cost per run that small T cannot amortise).
                potential[l] = state is null
                    ? torch.empty([batch, .. layer.NeuronShape], dtype, images.device)
                    : state.Potential(l, layer.NeuronShape);
                potential[l]!.copy_(layer.InitialPotential!.to_type(dtype));
                if (record?[l] == true)
                {
                    meanInputSum[l] = torch.zeros([batch, .. layer.NeuronShape], dtype);
                    counts[l] = torch.zeros([batch, .. layer.NeuronShape], dtype);
                }
            }
            else
            {
                inputSum[l] = layer.Inputs.Select(i => i.Source == ImageSource ? null : (Tensor?)torch.zeros([batch, .. Layers[i.Source].NeuronShape], dtype)).ToArray();
            }

            if (capture?[l] == true)
            {
                captured[l] = [];
            }
        }

        var pooled = PooledOutputs(n, fused, capture);
        var nextReadout = 0;
        for (var t0 = 0; t0 < timeSteps;)
        {
            var stop = readouts is not null && nextReadout < readouts.Count ? readouts[nextReadout] : timeSteps;
            var steps = Math.Min(chunk, stop - t0);
            RunChunk(steps);
            t0 += steps;
            if (t0 == stop && stop < timeSteps)
            {
                // A readout: the state after t steps is exactly that of a run with T = t (causal
                // dynamics, v(0) independent of T); counts and v are copied because they keep changing.
                onReadout?.Invoke(t0, Finish(t0, true));
                nextReadout++;
            }
        }

        var result = Finish(timeSteps, false);
        if (state is not null)
        {
            Interlocked.Exchange(ref reusableState, state)?.Dispose();
        }

        return result;

        void RunChunk(int steps)
        {
            using var chunkScope = NewDisposeScope();
            var outputs = new Tensor?[n];
            for (var l = 0; l < n; l++)
            {
                var layer = Layers[l];
                if (!layer.HasNeuron)
                {
                    for (var i = 0; i < layer.Inputs.Count; i++)
                    {
                        var source = layer.Inputs[i].Source;
                        if (source != ImageSource)
                        {
                            inputSum[l][i]!.add_(outputs[source]!.sum(dim: 0L));
                        }
                    }

                    continue;
                }

                var current = SpikeCurrent(layer, outputs, pooled, steps, batch);
                if (current is not null && imageCurrent[l] is not null)
                {
                    current.add_(imageCurrent[l]!);
                }

                var poolK = pooled[l];
                var shape = layer.NeuronShape;
                long[] outputShape = poolK > 1 ? [steps, batch, shape[0], shape[1] / poolK, shape[2] / poolK] : [steps, batch, .. shape];
                var output = state is null ? torch.empty(outputShape, dtype, images.device) : state.Output(l, outputShape);
                var v = potential[l]!;
                var th = theta[l]!;
                var recording = record?[l] == true;
                if (fused)
                {
                    NeuronScan.Run(
                        v, current?.contiguous(), current is null ? imageCurrent[l]!.contiguous() : null, thetaFull[l]!, output, recording ? counts[l] : null, steps,
                        poolK, poolK > 1 ? (int)shape[0] : 0, poolK > 1 ? (int)shape[1] : 0, poolK > 1 ? (int)shape[2] : 0);
                }

                for (var k = 0; !fused && k < steps; k++)
                {
                    using var stepScope = NewDisposeScope();
                    v.add_(current is null ? imageCurrent[l]! : current[k]);
                    var spikes = v.gt(th);
                    var o = output[k];
                    o.copy_(spikes).mul_(th);
                    v.sub_(o);
                    if (recording)
                    {
                        counts[l]!.add_(spikes.to_type(dtype));
                    }
                }

                if (recording)
                {
                    if (current is null)
                    {
                        meanInputSum[l]!.add_(imageCurrent[l]!, steps);
                    }
                    else
                    {
                        meanInputSum[l]!.add_(current.sum(dim: 0L));
                    }
                }

                if (captured[l] is not null)
                {
                    captured[l]!.Add(output.MoveToOuterDisposeScope());
                }

                outputs[l] = output;
            }
        }

        // Statistics and output after t steps; with copy, state that keeps changing is copied. New
        // tensors belong to the engine's scope and are moved to the caller's.
        EngineOutput Finish(int t, bool copy)
        {
            var statistics = new LayerStatistics?[n];
            Tensor? networkOutput = null;
            var last = Layers[n - 1];
            if (!last.HasNeuron)
            {
                Tensor? sum = imageCurrent[n - 1];
                for (var i = 0; i < last.Inputs.Count; i++)
                {
                    var input = last.Inputs[i];
                    if (input.Source == ImageSource)
                    {
                        continue;
                    }

                    var mean = inputSum[n - 1][i]!.div(t);
                    var c = input.Synapse is null ? mean : input.Synapse.Forward(mean);
                    sum = sum is null ? c : sum + c;
                }

                networkOutput = sum!.MoveToOuterDisposeScope();
            }

            for (var l = 0; l < n; l++)
            {
                if (record?[l] != true)
                {
                    continue;
                }

                var layer = Layers[l];
                var (sops, macs) = Operations(layer, images, counts, t);
                if (layer.HasNeuron)
                {
                    var spikeCounts = counts[l]!;
                    statistics[l] = new LayerStatistics(
                        layer.Name,
                        meanInputSum[l]!.div(t).MoveToOuterDisposeScope(),
                        (spikeCounts * theta[l]!).div_(t).MoveToOuterDisposeScope(),
                        (copy ? spikeCounts.clone() : spikeCounts).MoveToOuterDisposeScope(),
                        layer.InitialPotential!.to_type(dtype).clone().MoveToOuterDisposeScope(),
                        (copy ? potential[l]!.clone() : potential[l]!).MoveToOuterDisposeScope(),
                        theta[l]!.clone().MoveToOuterDisposeScope(),
                        sops,
                        macs);
                }
                else
                {
                    statistics[l] = new LayerStatistics(layer.Name, networkOutput!.clone().MoveToOuterDisposeScope(), null, null, null, null, null, sops, macs);
                }
            }

            var trains = new Tensor?[n];
            for (var l = 0; l < n; l++)
            {
                if (!copy && captured[l] is { } parts)
                {
                    trains[l] = (parts.Count == 1 ? parts[0] : torch.cat(parts, 0)).MoveToOuterDisposeScope();
                }
            }

            return new EngineOutput(networkOutput, statistics, trains);
        }
    }

    /// <summary>
    /// Per layer, the pooling k &gt; 1 to fuse into its neuron scan, or 1: a layer whose spikes reach only
    /// neuron layers (among the first <paramref name="n"/>) through synapses that all pool by the same k
    /// first, and whose trains are not captured, hands on P_k(theta * s) instead of theta * s.
    /// </summary>
    private int[] PooledOutputs(int n, bool fused, bool[]? capture)
    {
        var pooled = Enumerable.Repeat(1, n).ToArray();
        for (var l = 0; fused && l < n; l++)
        {
            if (!Layers[l].HasNeuron || capture?[l] == true || Layers[l].NeuronShape.Length != 3)
            {
                continue;
            }

            long? k = null;
            var ok = true;
            for (var m = l + 1; m < n; m++)
            {
                foreach (var input in Layers[m].Inputs.Where(i => i.Source == l))
                {
                    var p = input.Synapse?.PoolBefore ?? 1;
                    ok &= Layers[m].HasNeuron && p > 1 && (k is null || k == p);
                    k = p;
                }
            }

            if (ok && k is > 1 && k <= Math.Min(Layers[l].NeuronShape[1], Layers[l].NeuronShape[2]))
            {
                pooled[l] = (int)k.Value;
            }
        }

        return pooled;
    }

    private static Tensor? SpikeCurrent(SpikingLayer layer, Tensor?[] outputs, int[] pooled, int steps, long batch)
    {
        Tensor? current = null;
        foreach (var input in layer.Inputs)
        {
            if (input.Source == ImageSource)
            {
                continue;
            }

            var x = outputs[input.Source]!;
            Tensor c;
            if (input.Synapse is null)
            {
                c = current is null ? x.clone() : x;
            }
            else
            {
                var flat = x.flatten(0, 1);
                c = (pooled[input.Source] > 1 ? input.Synapse.ForwardPooled(flat) : input.Synapse.Forward(flat)).unflatten(0, [steps, batch]);
            }

            current = current is null ? c : current.add_(c);
        }

        return current;
    }

    private (double Sops, double Macs) Operations(SpikingLayer layer, Tensor images, Tensor?[] counts, int timeSteps)
    {
        double sops = 0, macs = 0;
        foreach (var input in layer.Inputs)
        {
            if (input.Source == ImageSource)
            {
                using var ones = torch.ones([1, .. InputShape], images.dtype);
                var perImage = input.Synapse?.ConnectionCount(ones) ?? ones.numel();
                macs += perImage * images.shape[0] * timeSteps;
                continue;
            }

            var sourceCounts = counts[input.Source];
            if (sourceCounts is null)
            {
                sops = double.NaN;
                continue;
            }

            using var total = sourceCounts.sum(dim: 0L, keepdim: true);
            sops += input.Synapse?.ConnectionCount(total) ?? total.sum().to_type(ScalarType.Float64).item<double>();
        }

        return (sops, macs);
    }
}

/// <summary>
/// Reusable simulation state of one (layer count, batch, dtype, chunk): per layer the potential v
/// [B, ...] and the output buffer [chunk, B, ...] whose first steps a chunk writes. Owned by no dispose
/// scope; every element is overwritten before it is read in a run (v from v(0), outputs by the scan).
/// </summary>
internal sealed class StateBuffers(int layers, long batch, ScalarType dtype, int chunk, Device device) : IDisposable
{
    private readonly Tensor?[] potentials = new Tensor?[layers];
    private readonly Tensor?[] outputs = new Tensor?[layers];

    /// <summary>Whether these buffers serve a run of this size.</summary>
    public bool Fits(int n, long b, ScalarType type, int c, Device other) =>
        n == layers && b == batch && type == dtype && c == chunk && other.type == device.type && other.index == device.index;

    /// <summary>Layer l's potential buffer, [B, ...neuron shape].</summary>
    public Tensor Potential(int l, long[] neuronShape)
    {
        potentials[l] ??= torch.empty([batch, .. neuronShape], dtype, device).DetachFromDisposeScope();
        return potentials[l]!.alias();
    }

    /// <summary>Layer l's output buffer for a chunk of shape [steps, B, ...] (steps &lt;= chunk): a view of its first steps.</summary>
    public Tensor Output(int l, long[] shape)
    {
        outputs[l] ??= torch.empty([chunk, .. shape[1..]], dtype, device).DetachFromDisposeScope();
        return outputs[l]!.narrow(0, 0, shape[0]);
    }

    /// <summary>Disposes every buffer.</summary>
    public void Dispose()
    {
        foreach (var t in potentials.Concat(outputs))
        {
            t?.Dispose();
        }
    }
}

/// <summary>What <see cref="SpikingNetwork.Simulate"/> returns: the output (when the last layer ran), statistics and captured trains per layer.</summary>
internal sealed record EngineOutput(Tensor? Output, LayerStatistics?[] Statistics, Tensor?[] Trains);
