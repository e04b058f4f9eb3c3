using Microsoft.ML;
using MLNetDeep.Models.Sequence;
using MLNetDeep.Optimizers;
using Xunit;
using Xunit.Abstractions;

namespace MLNetDeep.Tests.Sequence;

/// <summary>
/// The vanishing-gradient story made visible: on the adding problem over 50 steps, gated cells (LSTM, GRU) learn to
/// carry a value across the sequence within a small budget; a plain tanh RNN with the same budget stays at the
/// baseline of predicting the mean.
/// </summary>
[Trait("Category", "Training")]
public class MemoryTaskTests
{
    private readonly ITestOutputHelper _out;
    public MemoryTaskTests(ITestOutputHelper output) => _out = output;

    /// <summary>MSE of always predicting the mean target (1.0): the variance of the sum of two U(0,1) values, 1/6.</summary>
    private const double BaselineMse = MLNetDeep.Datasets.AddingProblem.MeanPredictorMse;

    [Fact]
    public void Adding_problem_rows_mark_one_step_in_each_half_and_sum_their_values()
    {
        var rows = MLNetDeep.Datasets.AddingProblem.Generate(200, 20, seed: 4);
        Assert.All(rows, r =>
        {
            var marked = Enumerable.Range(0, 20).Where(t => r.Features[2 * t + 1] == 1).ToArray();
            Assert.Equal(2, marked.Length);
            Assert.True(marked[0] < 10 && marked[1] >= 10, $"marked steps {marked[0]}, {marked[1]}");
            Assert.Equal(r.Features[2 * marked[0]] + r.Features[2 * marked[1]], r.Label);
        });
        Assert.Equal(rows.Select(r => r.Label), MLNetDeep.Datasets.AddingProblem.Generate(200, 20, seed: 4).Select(r => r.Label));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => MLNetDeep.Datasets.AddingProblem.Generate(10, 1, seed: 1));
        Assert.Contains("Received: steps=1", e.Message);
    }

    [Theory]
    [InlineData(RecurrentCell.Lstm, true)]
    [InlineData(RecurrentCell.Gru, true)]
    [InlineData(RecurrentCell.Rnn, false)]
    public void Adding_problem_over_50_steps_is_solved_by_LSTM_and_GRU_but_not_by_a_plain_tanh_RNN(RecurrentCell cell, bool solves)
    {
        const int steps = 50;
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SequenceData.Adding(2000, steps, seed: 1));
        var test = ml.Data.LoadFromEnumerable(SequenceData.Adding(500, steps, seed: 2));
        var model = ml.Regression.Trainers.Sequence(new SequenceOptions
        {
            Input = new NumericSequence(2),
            Cell = cell,
            Nonlinearity = RnnNonlinearity.Tanh,
            HiddenSize = 32,
            Epochs = 10,
            BatchSize = 32,
            Seed = 1,
            Optimizer = new Adam { LearningRate = 1e-2 },
            OnEpochEnd = s => _out.WriteLine(s.ToString()),
        }).Fit(train);
        var mse = ml.Regression.Evaluate(model.Transform(test)).MeanSquaredError;
        _out.WriteLine($"{cell}: test MSE {mse:F4} (baseline {BaselineMse:F4})");
        if (solves) Assert.True(mse < BaselineMse / 10, $"{cell} should solve the task: MSE {mse:F4}");
        else Assert.True(mse > BaselineMse * 0.7, $"a plain tanh RNN should not bridge 50 steps within this budget: MSE {mse:F4}");
    }
}
