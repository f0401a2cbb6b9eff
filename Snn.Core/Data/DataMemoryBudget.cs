using System.Globalization;

namespace Snn.Core.Data;

/// <summary>
/// The memory a dataset may take when it is read whole into memory, in bytes. A dataset whose estimate
/// (<see cref="DatasetLayout.InMemoryBytes"/>) exceeds it is refused before anything is read. The user sets it
/// with the environment variable SNN_DATA_MEMORY (bytes, or a number with a K, M, G or T suffix in powers of
/// 1024, e.g. "16G"); the default is half of the memory this process may use.
/// </summary>
/// <param name="Bytes">The budget in bytes, &gt;= 1.</param>
/// <param name="Source">Where the value came from, for messages (e.g. "SNN_DATA_MEMORY=16G").</param>
public sealed record DataMemoryBudget(long Bytes, string Source)
{
    /// <summary>The environment variable that sets the budget.</summary>
    public const string EnvironmentVariable = "SNN_DATA_MEMORY";

    /// <summary>The budget from SNN_DATA_MEMORY when it is set, else half of the memory this process may use.</summary>
    /// <exception cref="ArgumentException">SNN_DATA_MEMORY is set but is not a size.</exception>
    public static DataMemoryBudget FromEnvironment() =>
        FromEnvironment(Environment.GetEnvironmentVariable(EnvironmentVariable), GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);

    /// <summary>The budget from a value of SNN_DATA_MEMORY, or (null/empty) half of <paramref name="availableBytes"/>.</summary>
    /// <param name="value">The variable's value, or null/empty when unset.</param>
    /// <param name="availableBytes">The memory this process may use, &gt; 0 (physical memory or a container limit).</param>
    /// <exception cref="ArgumentException">The value is not a size.</exception>
    public static DataMemoryBudget FromEnvironment(string? value, long availableBytes)
    {
        if (!string.IsNullOrWhiteSpace(value))
        {
            return new DataMemoryBudget(ParseBytes(value, EnvironmentVariable), $"{EnvironmentVariable}={value.Trim()}");
        }

        return new DataMemoryBudget(
            Math.Max(1, availableBytes / 2), $"default: half of the {Format(availableBytes)} this process may use");
    }

    /// <summary>
    /// Parses a size: a number of bytes, optionally with a suffix K, M, G or T (powers of 1024, an optional
    /// trailing B or iB, any case), e.g. "1048576", "512M", "1.5G", "16GiB".
    /// </summary>
    /// <param name="text">The size text.</param>
    /// <param name="argument">The argument's name for the message (e.g. "SNN_DATA_MEMORY" or "--data-memory").</param>
    /// <exception cref="ArgumentException">Not a size &gt;= 1 byte.</exception>
    public static long ParseBytes(string text, string argument)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim().ToUpperInvariant();
        t = t.EndsWith("IB", StringComparison.Ordinal) ? t[..^2] : t.EndsWith('B') ? t[..^1] : t;
        var shift = t.Length == 0 ? 0 : "KMGT".IndexOf(t[^1], StringComparison.Ordinal) + 1;
        var number = shift > 0 ? t[..^1] : t;
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            || !(value * Math.Pow(1024, shift) >= 1) || value * Math.Pow(1024, shift) > long.MaxValue)
        {
            throw new ArgumentException(
                $"{argument} = {text} is not a memory size: expected a number of bytes >= 1, optionally with a K, M, G or T suffix (e.g. 16G)",
                argument);
        }

        return (long)(value * Math.Pow(1024, shift));
    }

    /// <summary>A byte count for messages: "512 B", "55.2 MB", "1.50 GB" (powers of 1024).</summary>
    /// <param name="bytes">The count, &gt;= 0.</param>
    public static string Format(long bytes) => bytes switch
    {
        < 1L << 10 => $"{bytes} B",
        < 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KB"),
        < 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:F1} MB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1073741824.0:F2} GB"),
    };

    /// <summary>Refuses a dataset whose in-memory estimate exceeds the budget, naming the folder, both sizes and how to raise it.</summary>
    /// <param name="dataset">The dataset.</param>
    /// <param name="layout">Its layout (the estimate is <see cref="DatasetLayout.InMemoryBytes"/>).</param>
    /// <exception cref="DataFileException">The estimate exceeds <see cref="Bytes"/>.</exception>
    public void Check(DatasetDescriptor dataset, DatasetLayout layout)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(layout);
        if (layout.InMemoryBytes > Bytes)
        {
            throw new DataFileException(
                layout.Folder,
                $"{dataset.Name} would need about {Format(layout.InMemoryBytes)} in memory ({layout}: uint8 pixels and int64 labels), " +
                $"more than the data memory budget of {Format(Bytes)} ({Source}); raise the budget with the environment variable " +
                $"{EnvironmentVariable} (bytes, or with a K, M, G or T suffix, e.g. {EnvironmentVariable}={SuggestGigabytes(layout.InMemoryBytes)}G)");
        }
    }

    /// <summary>The budget and where it came from.</summary>
    public override string ToString() => $"{Format(Bytes)} ({Source})";

    private static long SuggestGigabytes(long bytes) => Math.Max(1, (bytes + (1L << 30) - 1) >> 30);
}
