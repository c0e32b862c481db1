// Jest runs the pure-TypeScript unit tests (labextension/src/**/__tests__/*.spec.ts) with ts-jest.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/labextension/src'],
  testRegex: '__tests__/.*\\.spec\\.ts$',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: { module: 'commonjs', types: ['jest'] }, isolatedModules: false }]
  }
};
