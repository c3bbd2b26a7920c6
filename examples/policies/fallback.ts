import { compose, fallback, timeout } from '@breakwater/core';

const recommendations = compose(
  fallback<string[]>([], { on: (outcome) => 'error' in outcome }), // an empty list beats an error page
  timeout(300),
);
console.log(await recommendations.execute(() => Promise.reject(new Error('ranking service down'))));
