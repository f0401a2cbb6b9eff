using System.Diagnostics;
using System.Reflection;
using BenchmarkDotNet.Attributes;

namespace Snn.Bench;

/// <summary>
/// A quick side-by-side timing of <see cref="ActivationBenchmarks"/> in one process, for a shared machine
/// where a full BenchmarkDotNet run is too slow: every round times each benchmark once, in interleaved
/// order, and the report gives each benchmark's median over the rounds and its ratio to the ReLU median.
/// </summary>
public static class QuickActivationTiming
{
    /// <summary>Runs <paramref name="rounds"/> &gt;= 1 interleaved rounds (after one warm-up round) and prints the medians.</summary>
    public static void Run(int rounds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 1);
        var bench = new ActivationBenchmarks();
        bench.Setup();
        var methods = typeof(ActivationBenchmarks)
            .GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Where(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null)
            .ToArray();
        var times = methods.ToDictionary(m => m.Name, _ => new List<double>());
        for (var round = -1; round < rounds; round++)
        {
            foreach (var method in methods)
            {
                var clock = Stopwatch.StartNew();
                method.Invoke(bench, null);
                if (round >= 0)
                {
                    times[method.Name].Add(clock.Elapsed.TotalMilliseconds);
                }
            }
        }

        bench.Cleanup();
        var medians = times.ToDictionary(kv => kv.Key, kv => Median(kv.Value));
        Console.WriteLine($"forward + backward on [128, 32, 28, 28] float32, median of {rounds} interleaved rounds");
        foreach (var (name, median) in medians)
        {
            Console.WriteLine($"{name,-24} {median,9:F1} ms   {median / medians[nameof(ActivationBenchmarks.Relu)],5:F2} x ReLU");
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
